#include "runner/engine.h"

#include "plumbing/config.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/store.h"
#include "runner/kubernetes.h"
#include "runner/runtime.h"
#include "runner/slurm.h"

#include <unistd.h>

#include <sstream>

extern char **environ;

namespace pach::runner {

EngineCmd run_engine_cmd(const Store &s, const std::vector<std::string> &argv, const std::string &input)
{
	std::string tmp = s.path("pach/tmp");
	mkdir_p(tmp);
	TempFile out(tmp, "engine-out"), err(tmp, "engine-err");
	ProcessSpec p;
	p.argv = argv;
	for (char **e = environ; *e; e++) {
		std::string kv = *e;
		auto eq = kv.find('=');
		if (eq != std::string::npos)
			p.env[kv.substr(0, eq)] = kv.substr(eq + 1);
	}
	std::istringstream in(input);
	for (std::string l; std::getline(in, l);)
		p.stdin_lines.push_back(l);
	p.cwd = "/";
	p.log_path = out.path();
	p.err_path = err.path();
	p.timeout = 60;
	auto r = make_local_runtime()->run(p);
	EngineCmd c;
	c.out = read_file_small(out.path());
	c.err = read_file_small(err.path());
	c.exit = r.exit_code;
	if (!r.error.empty())
		c.err = r.error;
	else if (r.timed_out)
		c.err = argv[0] + " did not answer within a minute";
	while (!c.err.empty() && c.err.back() == '\n')
		c.err.pop_back();
	if (auto nl = c.err.rfind('\n'); nl != std::string::npos)
		c.err = c.err.substr(nl + 1);   // the last line says what went wrong
	if (c.err.size() > 1024) {
		c.err.resize(1024);
		c.err += "...";
	}
	return c;
}

std::string array_ranges(const std::vector<size_t> &v)
{
	std::string o;
	for (size_t i = 0; i < v.size();) {
		size_t j = i;
		while (j + 1 < v.size() && v[j + 1] == v[j] + 1)
			j++;
		if (!o.empty())
			o += ',';
		o += j == i ? std::to_string(v[i]) : std::to_string(v[i]) + "-" + std::to_string(v[j]);
		i = j + 1;
	}
	return o;
}

std::optional<std::vector<size_t>> parse_ranges(std::string_view s, size_t limit)
{
	std::vector<size_t> out;
	auto number = [](std::string_view t) -> std::optional<size_t> {
		if (t.empty() || t.size() > 18 || t.find_first_not_of("0123456789") != std::string_view::npos)
			return std::nullopt;
		size_t n = 0;
		for (char c : t)
			n = n * 10 + (size_t)(c - '0');
		return n;
	};
	while (!s.empty()) {
		size_t comma = s.find(',');
		std::string_view part = s.substr(0, comma);
		s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
		if (comma != std::string_view::npos && s.empty())
			return std::nullopt;   // a trailing comma
		size_t dash = part.find('-');
		auto a = number(part.substr(0, dash));
		auto b = dash == std::string_view::npos ? a : number(part.substr(dash + 1));
		if (!a || !b || *b < *a)
			return std::nullopt;
		for (size_t i = *a; i <= *b && i < limit; i++)
			out.push_back(i);
	}
	std::sort(out.begin(), out.end());
	out.erase(std::unique(out.begin(), out.end()), out.end());
	return out;
}

std::string own_binary(const Store &s, const std::string &key)
{
	if (auto p = config_get(&s, key); p && !p->empty())
		return *p;
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n <= 0)
		die_errno("unable to find pach's own path (set " + key + ")");
	return std::string(buf, (size_t)n);
}

std::unique_ptr<Engine> make_engine(const std::string &executor, const Store &s, const PipelineSpec &spec,
				    const remote::RemoteConfig &rc, remote::Backend &b)
{
	if (executor == "slurm")
		return std::make_unique<SlurmEngine>(s, spec, rc, b);
	if (executor == "kubernetes")
		return std::make_unique<KubeEngine>(s, spec, rc, b);
	die("executor '{}' runs no cluster engine", executor);
}

} // namespace pach::runner
