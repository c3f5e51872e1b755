#include "serve/service.h"

#include "plumbing/fs.h"
#include "plumbing/meta.h"

#include <sys/stat.h>

namespace pach::serve {

Service::Service(Store &s, const ServeOptions &o) : s_(s), g_(s, o.gateway) {}

std::unique_ptr<Exchange> Service::start(const Request &r)
{
	// /metrics is always the metrics: a repo named "metrics" is still
	// reached as the bucket master.metrics.
	if (r.path == "/metrics" && (r.method == "GET" || r.method == "HEAD")) {
		Response resp;
		resp.body = metrics_text();
		resp.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
		return answered(std::move(resp));
	}
	return g_.start(r);
}

std::string Service::op_of(const Request &r)
{
	if (r.path == "/metrics")
		return "Metrics";
	return Gateway::op_of(r);
}

Response Service::on_error(const Request &r, const std::exception &e)
{
	return g_.error_response(r, e);
}

void Service::done(const Done &d)
{
	m_.request(*d.op, d.status, d.seconds, d.bytes_in, d.bytes_out);
}

std::string Service::metrics_text()
{
	std::string o = m_.text();
	uint64_t packs = 0, n = 0;
	for (auto &p : s_.odb().packs()) {
		struct stat st;
		if (stat(p->pack_path.c_str(), &st) == 0)
			packs += (uint64_t)st.st_size;
		n++;
	}
	o += "# HELP pach_store_pack_bytes Bytes in the store's packs.\n# TYPE pach_store_pack_bytes gauge\n";
	o += fmt::format("pach_store_pack_bytes {}\n", packs);
	o += "# HELP pach_store_packs Packs in the store.\n# TYPE pach_store_packs gauge\n";
	o += fmt::format("pach_store_packs {}\n", n);
	o += "# HELP pach_store_repos Repos in the store.\n# TYPE pach_store_repos gauge\n";
	o += fmt::format("pach_store_repos {}\n", list_repos(s_).size());
	o += "# HELP pach_gateway_md5_known Blobs whose MD5 the gateway knows (ETags).\n# TYPE pach_gateway_md5_known gauge\n";
	o += fmt::format("pach_gateway_md5_known {}\n", g_.md5s().size());
	return o;
}

} // namespace pach::serve
