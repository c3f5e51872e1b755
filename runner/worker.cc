#include "runner/worker.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/odb.h"
#include "plumbing/pack_copy.h"
#include "plumbing/store.h"
#include "remote/objects.h"
#include "runner/manifest.h"
#include "runner/steps.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <unordered_set>

namespace pach::runner {

namespace {

// The node's cache store, made by the first task that needs it (two
// tasks starting at once on one node take turns).
std::unique_ptr<Store> open_cache(const std::string &cache)
{
	mkdir_p(cache);
	std::string dir = cache + "/store";
	{
		FileLock l(cache + "/lock", FileLock::exclusive);
		if (!path_exists(dir + "/.pach")) {
			mkdir_p(dir);
			Store::init(dir);
		}
	}
	return std::make_unique<Store>(dir + "/.pach");
}

// Every object reachable from `roots` (trees and blobs), iteratively.
std::vector<Oid> closure(const Store &s, const std::vector<Oid> &trees, const std::vector<Oid> &blobs)
{
	std::unordered_set<Oid, OidHash> seen(blobs.begin(), blobs.end());
	std::vector<Oid> out(seen.begin(), seen.end());
	std::vector<Oid> stack = trees;
	while (!stack.empty()) {
		Oid t = stack.back();
		stack.pop_back();
		if (!seen.insert(t).second)
			continue;
		out.push_back(t);
		for (auto &e : s.read_tree(t)) {
			if (e.is_dir())
				stack.push_back(e.oid);
			else if (e.mode != kModeGitlink && seen.insert(e.oid).second)
				out.push_back(e.oid);
		}
	}
	return out;
}

std::string key_prefix(const WorkerOptions &o)
{
	return "jobs/" + o.key + "/";
}

} // namespace

std::string default_worker_cache()
{
	if (const char *c = getenv("PACH_WORKER_CACHE"); c && *c)
		return c;
	if (const char *x = getenv("XDG_CACHE_HOME"); x && *x)
		return std::string(x) + "/pach/worker";
	const char *home = getenv("HOME");
	return std::string(home && *home ? home : "/tmp") + "/.cache/pach/worker";
}

WorkerReport run_worker(const WorkerOptions &o)
{
	if (o.key.size() != 40 || o.key.find_first_not_of("0123456789abcdef") != std::string::npos)
		die("worker: '{}' is not a job key (40 hex digits)", o.key);
	auto b = remote::open_backend(o.remote);
	std::string pre = key_prefix(o);
	std::string task_name = std::to_string(o.task);
	WorkerReport rep;
	try {
		if (b->size(pre + "results/" + task_name)) {
			rep.already_done = true;
			return rep;
		}
		auto jm = b->get(pre + "job", 32u << 20);
		if (!jm)
			die("worker: remote {} has no job {}", b->describe(), o.key);
		JobManifest m = parse_job_manifest(jm->data, b->describe() + "/" + pre + "job");
		if (o.task >= m.tasks)
			die("worker: job {} has {} tasks; there is no task {}", o.key, m.tasks, o.task);
		auto tm = b->get(pre + "tasks/" + task_name, 1u << 30);
		if (!tm)
			die("worker: remote {} has no task {} of job {}", b->describe(), o.task, o.key);
		TaskManifest t = parse_task(tm->data, b->describe() + "/" + pre + "tasks/" + task_name);

		auto parsed = parse_specs(m.spec, "job " + o.key + " spec");
		if (parsed.specs.size() != 1 || parsed.specs[0].name != m.pipeline)
			die("worker: job {}: its spec is not pipeline '{}'", o.key, m.pipeline);
		const PipelineSpec &spec = parsed.specs[0];

		auto cache = open_cache(o.cache);
		Store &s = *cache;
		std::vector<remote::ExtraPack> inputs;
		for (auto &[name, size] : m.packs)
			inputs.push_back({pre + "inputs/", name, size});
		auto fs = remote::fetch_objects(s, *b, t.objects, o.cache + "/idx", inputs);
		rep.fetched_bytes = fs.bytes;
		rep.fetched_objects = fs.objects;
		rep.idx_bytes = fs.idx_bytes;

		JobPlan plan(spec);
		JobRecord job;
		job.id = m.id;
		job.pipeline = m.pipeline;
		for (auto &[id, d] : t.datums) {
			plan.to_run.push_back(plan.datums.size());
			plan.datums.push_back(d);
			DatumRecord r;
			r.id = id;
			job.datums.push_back(r);
		}
		plan.image_ref = m.image;
		RunOptions ro;
		ro.jobs = std::max(1, o.jobs);
		if (o.in_container) {
			// The container is the image: no runtime of ours.
			if (!is_dir("/pfs"))
				die("worker: --in-container needs a /pfs directory (an emptyDir of the pod)");
			plan.runtime = "pod";
			ro.pfs_dir = "/pfs";
			ro.jobs = 1;
		} else {
			plan.runtime = pipeline_runtime(s, spec, m.image, m.runtime);
			if (!m.image.empty() && plan.runtime != "local")
				plan.image = resolve_image(s, m.image, false, plan.runtime);
		}
		// Tasks of one job may run side by side on a node: each its own
		// work area.
		ro.work_dir = s.path(fmt::format("pach/work/{}-{}-{}", o.key.substr(0, 12), o.task, getpid()));
		{
			auto lock = s.lock_shared();
			ObjectWriter w(s);
			run_datums(s, w, plan, job, ro);
			w.finish();
		}
		s.odb().refresh();

		TaskResult res;
		std::vector<Oid> trees, blobs;
		for (auto &d : job.datums) {
			if (d.out_tree)
				trees.push_back(*d.out_tree);
			if (d.log)
				blobs.push_back(*d.log);
			rep.failed += d.state == DatumState::failed;
		}
		rep.datums = job.datums.size();
		auto objs = closure(s, trees, blobs);
		std::string tmp = s.path("pach/tmp/out-" + task_name);
		remove_tree(tmp);
		mkdir_p(tmp);
		auto sum = copy_to_pack(s, tmp, objs, s.odb().packs());
		if (sum) {
			std::string pack = tmp + "/pack-" + sum->hex() + ".pack";
			Fd fd(::open(pack.c_str(), O_RDONLY | O_CLOEXEC));
			struct stat stb;
			if (!fd || fstat(fd.get(), &stb) < 0)
				die_errno("unable to open '" + pack + "'");
			b->put_file(pre + "packs/" + sum->hex() + ".pack", fd.get(), (uint64_t)stb.st_size);
			rep.uploaded_bytes = (uint64_t)stb.st_size;
			res.pack = sum;
		}
		remove_tree(tmp);
		res.datums = job.datums;
		// The result last: a coordinator that sees it finds the pack.
		if (b->put(pre + "results/" + task_name, format_result(res)) != remote::PutStatus::ok)
			die("worker: unable to write the result of task {}", o.task);
		return rep;
	} catch (const Error &e) {
		try {
			b->put(pre + "errors/" + task_name, std::string(e.what()).substr(0, 4096) + "\n");
		} catch (...) {
		}
		throw;
	}
}

void install_bundle(const std::string &from, const std::string &to)
{
	for (const char *sub : {"bin", "lib"}) {
		std::string src = from + "/" + sub, dst = to + "/" + sub;
		auto names = dir_names(src);
		if (names.empty())
			die("worker: '{}' holds no pach bundle (no {}/)", from, sub);
		if (::mkdir(dst.c_str(), 0755) < 0 && errno != EEXIST)
			die_errno("unable to create directory '" + dst + "'");
		for (auto &n : names) {
			Fd in(::open((src + "/" + n).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
			struct stat st;
			if (!in || fstat(in.get(), &st) < 0 || !S_ISREG(st.st_mode))
				die("worker: '{}/{}' is not a regular file", src, n);
			std::string d = dst + "/" + n;
			::unlink(d.c_str());
			Fd out(::open(d.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 0755));
			if (!out)
				die_errno("unable to create '" + d + "'");
			char buf[1 << 16];
			for (;;) {
				ssize_t r = ::read(in.get(), buf, sizeof buf);
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0)
					die_errno("unable to read '" + src + "/" + n + "'");
				if (r == 0)
					break;
				write_full(out.get(), buf, (size_t)r, d);
			}
			if (fsync(out.get()) < 0)
				die_errno("unable to write '" + d + "'");
		}
	}
}

} // namespace pach::runner
