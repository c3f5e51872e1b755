#include "runner/spec.h"

#include "plumbing/address.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/glob.h"
#include "runner/cron.h"
#include "runner/runtime.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <functional>
#include <set>

namespace pach::runner {

std::string readable_yaml(const YAML::Node &doc);

namespace {

// Protobuf's JSON mapping, which Pachyderm reads specs with, takes each
// field under its lowerCamelCase JSON name and its proto (snake_case)
// name: "joinOn" and "join_on" are one field.
std::string snake_case(const std::string &k)
{
	std::string out;
	for (char ch : k) {
		if (ch >= 'A' && ch <= 'Z') {
			out += '_';
			out += (char)(ch - 'A' + 'a');
		} else {
			out += ch;
		}
	}
	return out;
}

struct Ctx {
	std::string file;
	std::vector<std::string> *warnings;

	std::string where(const YAML::Node &n) const
	{
		int line = n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
		return line ? fmt::format("{}:{}", file, line) : file;
	}
	[[noreturn]] void fail(const YAML::Node &n, const std::string &field, const std::string &msg) const
	{
		die("{}: field '{}': {}", where(n), field, msg);
	}
	void warn(const YAML::Node &n, const std::string &msg) const
	{
		warnings->push_back(fmt::format("{}: warning: {}", where(n), msg));
	}
	std::string str(const YAML::Node &n, const std::string &field) const
	{
		if (!n.IsScalar())
			fail(n, field, "expected a string");
		return n.as<std::string>();
	}
	bool boolean(const YAML::Node &n, const std::string &field) const
	{
		try {
			return n.as<bool>();
		} catch (const YAML::Exception &) {
			fail(n, field, "expected true or false");
		}
	}
	int integer(const YAML::Node &n, const std::string &field) const
	{
		try {
			return n.as<int>();
		} catch (const YAML::Exception &) {
			fail(n, field, "expected a number");
		}
	}
	int64_t integer64(const YAML::Node &n, const std::string &field) const
	{
		try {
			return n.as<int64_t>();
		} catch (const YAML::Exception &) {
			fail(n, field, "expected a number");
		}
	}
	std::vector<std::string> strings(const YAML::Node &n, const std::string &field) const
	{
		if (!n.IsSequence())
			fail(n, field, "expected a list of strings");
		std::vector<std::string> v;
		for (auto x : n)
			v.push_back(str(x, field));
		return v;
	}
	void need_map(const YAML::Node &n, const std::string &field) const
	{
		if (!n.IsMap())
			fail(n, field, "expected a mapping");
	}
};

// A mapping of the spec, read by proto field name whatever the spelling;
// messages name fields as the user wrote them.
struct Fields {
	const Ctx &c;
	YAML::Node n;
	std::string path;   // e.g. "input.pfs", as spelled; "" at the top

	Fields(const Ctx &ctx, YAML::Node node, std::string at) : c(ctx), n(node), path(std::move(at))
	{
		c.need_map(n, path.empty() ? "(document)" : path);
		std::set<std::string> seen;
		for (auto it = n.begin(); it != n.end(); ++it) {
			if (!it->first.IsScalar())
				c.fail(it->first, path, "expected field names");
			std::string k = it->first.as<std::string>();
			if (!seen.insert(snake_case(k)).second)
				c.fail(it->first, join(k), "given twice (as " + snake_case(k) + " and in camelCase)");
		}
	}
	std::string join(const std::string &k) const { return path.empty() ? k : path + "." + k; }
	// The key as written, or "" when absent.
	std::string key(const std::string &snake) const
	{
		for (auto it = n.begin(); it != n.end(); ++it) {
			std::string k = it->first.as<std::string>();
			if (snake_case(k) == snake)
				return k;
		}
		return "";
	}
	YAML::Node operator[](const std::string &snake) const
	{
		std::string k = key(snake);
		return k.empty() ? YAML::Node() : n[k];
	}
	bool has(const std::string &snake) const { return !key(snake).empty(); }
	// The field's name for messages: as written, else in proto form.
	std::string name(const std::string &snake) const
	{
		std::string k = key(snake);
		return join(k.empty() ? snake : k);
	}
	[[noreturn]] void missing(const std::string &snake) const { c.fail(n, name(snake), "missing"); }
	Fields sub(const std::string &snake) const { return Fields(c, (*this)[snake], name(snake)); }
	std::string str(const std::string &snake) const { return c.str((*this)[snake], name(snake)); }
	bool boolean(const std::string &snake) const { return c.boolean((*this)[snake], name(snake)); }
	int integer(const std::string &snake) const { return c.integer((*this)[snake], name(snake)); }
	std::vector<std::string> strings(const std::string &snake) const { return c.strings((*this)[snake], name(snake)); }
	// Every field must be known: `known` are read, `ignored` are
	// Pachyderm's but mean nothing to pach (a warning says why).
	void check(std::initializer_list<const char *> known,
		   std::initializer_list<std::pair<const char *, const char *>> ignored = {}) const
	{
		for (auto it = n.begin(); it != n.end(); ++it) {
			std::string k = it->first.as<std::string>(), sk = snake_case(k);
			bool ok = false;
			for (const char *x : known)
				ok |= sk == x;
			if (ok)
				continue;
			const char *why = nullptr;
			for (auto &[x, w] : ignored)
				if (sk == x)
					why = w;
			c.warn(it->first, why ? fmt::format("field '{}' {} (ignored)", join(k), why)
					      : fmt::format("field '{}' is not supported by pach (ignored)", join(k)));
		}
	}
};

// Pachyderm 2.5+ puts repos and pipelines in projects; pach has one
// namespace.  Only the default project is accepted, so two projects'
// repos are never merged into one.
void check_project(const Fields &m)
{
	if (!m.has("project"))
		return;
	YAML::Node p = m["project"];
	std::string name = p.IsMap() ? (Fields(m.c, p, m.name("project")).has("name")
						? Fields(m.c, p, m.name("project")).str("name") : "")
				     : m.str("project");
	if (!name.empty() && name != "default")
		m.c.fail(p, m.name("project"), "project '" + name + "': pach has no projects (repos and pipelines "
					       "share one namespace); use the default project or leave it out");
}

Input parse_input(const Ctx &c, const YAML::Node &n, const std::string &field);

// resource_requests / resource_limits.  cpu is a number in Pachyderm's
// protobuf (0.5); the Kubernetes forms ("500m") are taken too.  disk and
// gpu mean something only to a cluster executor.
PipelineSpec::Resources parse_resources(const Ctx &c, const Fields &r)
{
	PipelineSpec::Resources o;
	o.given = true;
	r.check({"memory", "cpu", "disk", "gpu"});
	if (r.has("memory")) {
		o.memory = r.str("memory");
		if (parse_memory(o.memory) < 0)
			c.fail(r["memory"], r.name("memory"), "bad size '" + o.memory + "' (e.g. 512Mi, 1G)");
	}
	if (r.has("disk")) {
		o.disk = r.str("disk");
		if (parse_memory(o.disk) < 0)
			c.fail(r["disk"], r.name("disk"), "bad size '" + o.disk + "' (e.g. 10Gi)");
	}
	if (r.has("cpu")) {
		o.cpu = r.str("cpu");
		if (parse_cpu(o.cpu) < 0)
			c.fail(r["cpu"], r.name("cpu"), "bad cpu count '" + o.cpu + "' (e.g. 0.5, 2, 500m)");
	}
	if (r.has("gpu")) {
		Fields g = r.sub("gpu");
		g.check({"type", "number"});
		o.gpu_type = g.has("type") ? g.str("type") : "nvidia.com/gpu";
		// A Kubernetes resource name: [prefix/]name, DNS-ish characters.
		if (o.gpu_type.empty() || o.gpu_type.size() > 253 ||
		    o.gpu_type.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/") !=
			    std::string::npos ||
		    std::count(o.gpu_type.begin(), o.gpu_type.end(), '/') > 1)
			c.fail(g["type"], g.name("type"), "bad resource name '" + o.gpu_type + "' (e.g. nvidia.com/gpu)");
		o.gpu = g.has("number") ? c.integer64(g["number"], g.name("number")) : 1;
		if (o.gpu < 0 || o.gpu > 1024)
			c.fail(g["number"], g.name("number"), "expected a count from 0 to 1024");
	}
	return o;
}

std::vector<Input> parse_list(const Ctx &c, const YAML::Node &n, const std::string &field)
{
	if (!n.IsSequence() || n.size() == 0)
		c.fail(n, field, "expected a non-empty list of inputs");
	std::vector<Input> v;
	for (size_t i = 0; i < n.size(); i++)
		v.push_back(parse_input(c, n[i], fmt::format("{}[{}]", field, i)));
	return v;
}

void parse_pfs(const Fields &v, PfsInput &p)
{
	const Ctx &c = v.c;
	v.check({"name", "repo", "branch", "glob", "lazy", "empty_files", "join_on", "outer_join", "group_by", "project"},
		{{"repo_type", "is not supported by pach: inputs are data repos"},
		 {"commit", "is not supported by pach: inputs follow their branch"},
		 {"s3", "is not supported by pach: inputs are files under /pfs"},
		 {"trigger", "is not supported by pach: every run reads the branch head"}});
	check_project(v);
	if (!v.has("repo"))
		v.missing("repo");
	p.repo = v.str("repo");
	if (!valid_repo_name(p.repo))
		c.fail(v["repo"], v.name("repo"), "invalid repo name '" + p.repo + "'");
	p.name = v.has("name") ? v.str("name") : p.repo;
	// The name becomes /pfs/<name> and an environment variable.
	if (!valid_repo_name(p.name))
		c.fail(v["name"], v.name("name"), "invalid input name '" + p.name + "': use letters, digits, '_' and '-'");
	if (v.has("branch")) {
		p.branch = v.str("branch");
		if (!valid_branch_name(p.branch))
			c.fail(v["branch"], v.name("branch"), "invalid branch name '" + p.branch + "'");
	}
	if (!v.has("glob"))
		v.missing("glob");
	p.glob = v.str("glob");
	try {
		Glob g(p.glob);
	} catch (const Error &e) {
		c.fail(v["glob"], v.name("glob"), e.what());
	}
	if (v.has("lazy"))
		p.lazy = v.boolean("lazy");
	if (v.has("empty_files"))
		p.empty_files = v.boolean("empty_files");
	if (v.has("outer_join"))
		p.outer_join = v.boolean("outer_join");
	if (v.has("join_on"))
		p.join_on = v.str("join_on");
	if (v.has("group_by"))
		p.group_by = v.str("group_by");
}

void parse_cron(const Fields &v, CronInput &cr)
{
	const Ctx &c = v.c;
	v.check({"name", "repo", "spec", "start", "overwrite", "project"});
	check_project(v);
	if (!v.has("name"))
		v.missing("name");
	cr.name = v.str("name");
	if (!valid_repo_name(cr.name))
		c.fail(v["name"], v.name("name"), "invalid input name '" + cr.name + "': use letters, digits, '_' and '-'");
	if (!v.has("spec"))
		v.missing("spec");
	cr.spec = v.str("spec");
	try {
		check_cron_spec(cr.spec);
	} catch (const Error &e) {
		c.fail(v["spec"], v.name("spec"), e.what());
	}
	if (v.has("repo")) {
		cr.repo = v.str("repo");
		if (!valid_repo_name(cr.repo))
			c.fail(v["repo"], v.name("repo"), "invalid repo name '" + cr.repo + "'");
	}
	if (v.has("start"))
		cr.start = v.str("start");
	if (v.has("overwrite"))
		cr.overwrite = v.boolean("overwrite");
}

// Every pfs input below `in` (through nested cross, union, join, group).
void pfs_leaves(Input &in, std::vector<Input *> &out)
{
	if (in.kind == Input::pfs)
		out.push_back(&in);
	for (auto &ch : in.children)
		pfs_leaves(ch, out);
}

Input parse_input(const Ctx &c, const YAML::Node &n, const std::string &field)
{
	c.need_map(n, field);
	if (n.size() != 1)
		c.fail(n, field, "expected exactly one of pfs, cross, union, join, group, cron");
	Input in;
	in.line = n.Mark().line + 1;
	std::string written = n.begin()->first.as<std::string>(), kind = snake_case(written);
	YAML::Node v = n.begin()->second;
	std::string f = field + "." + written;
	if (kind == "pfs") {
		in.kind = Input::pfs;
		parse_pfs(Fields(c, v, f), in.pfs_in);
	} else if (kind == "cron") {
		in.kind = Input::cron;
		parse_cron(Fields(c, v, f), in.cron_in);
	} else if (kind == "cross" || kind == "union" || kind == "join" || kind == "group") {
		in.kind = kind == "cross" ? Input::cross : kind == "union" ? Input::union_ : kind == "join" ? Input::join
											: Input::group;
		in.children = parse_list(c, v, f);
		// Every file of a join (group) is keyed by its own pfs input's
		// join_on (group_by), however deep: a group over a join re-keys
		// the join's files by their group_by.
		if (in.kind == Input::join || in.kind == Input::group) {
			for (size_t i = 0; i < in.children.size(); i++) {
				std::vector<Input *> leaves;
				pfs_leaves(in.children[i], leaves);
				if (leaves.empty())
					c.fail(v[i], fmt::format("{}[{}]", f, i), "a " + kind + " takes pfs inputs (cron has no key)");
				for (Input *l : leaves)
					if ((in.kind == Input::join ? l->pfs_in.join_on : l->pfs_in.group_by).empty())
						c.fail(v[i], fmt::format("{}[{}]", f, i),
						       fmt::format("input '{}' has no {} (every input of a {} needs one)", l->pfs_in.name,
								   in.kind == Input::join ? "join_on" : "group_by", kind));
			}
		}
	} else {
		c.fail(n, field, "unknown input type '" + written + "' (expected pfs, cross, union, join, group or cron)");
	}
	return in;
}

// The input names one datum can hold; duplicates among inputs combined
// into one datum would share a mount path.
std::vector<std::string> datum_names(const Ctx &c, const Input &in, const YAML::Node &where)
{
	switch (in.kind) {
	case Input::pfs: return {in.pfs_in.name};
	case Input::cron: return {in.cron_in.name};
	case Input::union_: {
		std::set<std::string> all;
		for (auto &ch : in.children)
			for (auto &n : datum_names(c, ch, where))
				all.insert(n);
		return {all.begin(), all.end()};
	}
	default: {
		std::vector<std::string> out;
		std::set<std::string> seen;
		for (auto &ch : in.children)
			for (auto &n : datum_names(c, ch, where)) {
				if (!seen.insert(n).second)
					die("{}:{}: field 'input': duplicate input name '{}' (give each input a distinct 'name')",
					    c.file, in.line, n);
				out.push_back(n);
			}
		return out;
	}
	}
}

void parse_transform(const Fields &t, PipelineSpec &s)
{
	const Ctx &c = t.c;
	t.check({"image", "cmd", "stdin", "env", "working_dir", "user", "accept_return_code", "err_cmd", "err_stdin",
		 "datum_batching"},
		{{"secrets", "is not supported by pach: pass values through env"},
		 {"image_pull_secrets", "is not supported by pach: images are local files"},
		 {"debug", "is not supported by pach"},
		 {"dockerfile", "is not supported by pach"},
		 {"memory_volume", "is not supported by pach"}});
	if (t.has("datum_batching"))
		s.transform.datum_batching = t.boolean("datum_batching");
	if (t.has("image"))
		s.transform.image = t.str("image");
	if (!t.has("cmd"))
		t.missing("cmd");
	s.transform.cmd = t.strings("cmd");
	if (s.transform.cmd.empty())
		c.fail(t["cmd"], t.name("cmd"), "empty");
	if (t.has("stdin"))
		s.transform.stdin_lines = t.strings("stdin");
	if (t.has("err_cmd"))
		s.transform.err_cmd = t.strings("err_cmd");
	if (t.has("err_stdin"))
		s.transform.err_stdin = t.strings("err_stdin");
	if (t.has("env")) {
		// Variable names are the user's, not fields: kept as written.
		YAML::Node env = t["env"];
		c.need_map(env, t.name("env"));
		for (auto it = env.begin(); it != env.end(); ++it)
			s.transform.env[it->first.as<std::string>()] =
				c.str(it->second, t.name("env") + "." + it->first.as<std::string>());
	}
	if (t.has("working_dir"))
		s.transform.working_dir = t.str("working_dir");
	if (t.has("user")) {
		s.transform.user = t.str("user");
		if (s.transform.user.empty() || s.transform.user[0] == ':' || s.transform.user.back() == ':')
			c.fail(t["user"], t.name("user"), "bad user '" + s.transform.user + "' (e.g. 1000, 1000:100, nobody)");
	}
	if (t.has("accept_return_code")) {
		YAML::Node a = t["accept_return_code"];
		if (!a.IsSequence())
			c.fail(a, t.name("accept_return_code"), "expected a list of numbers");
		for (auto x : a)
			s.transform.accept_return_code.push_back(c.integer(x, t.name("accept_return_code")));
	}
}

PipelineSpec parse_one(const Ctx &c, const YAML::Node &doc)
{
	PipelineSpec s;
	s.file = c.file;
	s.line = doc.Mark().line + 1;
	Fields d(c, doc, "");
	d.check({"pipeline", "description", "transform", "input", "parallelism_spec", "datum_tries", "datum_timeout",
		 "job_timeout", "output_branch", "resource_limits", "reprocess_spec", "runtime", "network", "spout",
		 "datum_set_spec", "executor", "resource_requests"},
		{
		 {"sidecar_resource_limits", "is not supported by pach: there is no sidecar"},
		 {"sidecar_resource_requests", "is not supported by pach: there is no sidecar"},
		 {"autoscaling", "is not supported by pach: there are no workers to scale"},
		 {"scheduling_spec", "is not supported by pach: there is no Kubernetes"},
		 {"pod_spec", "is not supported by pach: there is no Kubernetes"},
		 {"pod_patch", "is not supported by pach: there is no Kubernetes"},
		 {"metadata", "is not supported by pach: there is no Kubernetes"},
		 {"tolerations", "is not supported by pach: there is no Kubernetes"},
		 {"standby", "is not supported by pach: nothing runs between runs"},
		 {"cache_size", "is not supported by pach"},
		 {"max_queue_size", "is not supported by pach"},
		 {"salt", "is not supported by pach: the transform itself salts datums"},
		 {"s3_out", "is not supported by pach: output is the files written to /pfs/out"},
		 {"egress", "is not supported by pach: push the output repo with pach push"},
		 {"service", "is not supported by pach: it runs batch jobs"},
		 {"tf_job", "is not supported by pach"},
		 {"spec_commit", "is not supported by pach"},
		 {"enable_stats", "is not supported by pach: every datum's log and timing are kept"}});
	if (!d.has("pipeline"))
		d.missing("pipeline");
	Fields pl = d.sub("pipeline");
	pl.check({"name", "project"});
	check_project(pl);
	if (!pl.has("name"))
		pl.missing("name");
	s.name = pl.str("name");
	if (!valid_repo_name(s.name))
		c.fail(pl["name"], pl.name("name"), "invalid name '" + s.name + "': use letters, digits, '_' and '-'");
	if (d.has("description"))
		s.description = d.str("description");
	if (d.has("spout"))
		c.fail(d["spout"], d.name("spout"), "spout pipelines are not supported by pach: it runs batch jobs over "
						    "committed data (commit what a spout would emit with pach put or pach "
						    "commit, or use a cron input)");

	if (!d.has("transform"))
		d.missing("transform");
	parse_transform(d.sub("transform"), s);
	if (d.has("runtime"))
		s.runtime = d.str("runtime");
	if (!s.runtime.empty() && !known_runtime(s.runtime))
		c.fail(d["runtime"], d.name("runtime"), "unknown runtime '" + s.runtime +
								"' (expected runc, crun, bwrap, docker, podman or local)");

	if (d.has("executor"))
		s.executor = d.str("executor");
	if (!s.executor.empty() && s.executor != "local" && s.executor != "slurm" && s.executor != "kubernetes")
		c.fail(d["executor"], d.name("executor"),
		       "unknown executor '" + s.executor + "' (expected local, slurm or kubernetes)");

	if (!d.has("input"))
		d.missing("input");
	s.input = parse_input(c, d["input"], d.name("input"));
	datum_names(c, s.input, d["input"]);
	// Cron repos default to <pipeline>_<name>.
	std::function<void(Input &)> fix = [&](Input &in) {
		if (in.kind == Input::cron && in.cron_in.repo.empty())
			in.cron_in.repo = s.name + "_" + in.cron_in.name;
		for (auto &ch : in.children)
			fix(ch);
	};
	fix(s.input);

	if (d.has("parallelism_spec")) {
		Fields p = d.sub("parallelism_spec");
		p.check({"constant"}, {{"coefficient", "is not supported by pach: there is no cluster to scale with"}});
		if (p.has("constant")) {
			s.parallelism = p.integer("constant");
			if (s.parallelism < 1)
				c.fail(p["constant"], p.name("constant"), "must be at least 1");
		}
	}
	if (d.has("datum_set_spec")) {
		Fields p = d.sub("datum_set_spec");
		p.check({"number", "size_bytes", "per_worker"});
		for (auto [key, dst] : {std::pair<const char *, int64_t *>{"number", &s.datum_set.number},
					{"size_bytes", &s.datum_set.size_bytes}, {"per_worker", &s.datum_set.per_worker}}) {
			if (!p.has(key))
				continue;
			*dst = c.integer64(p[key], p.name(key));
			if (*dst < 0)
				c.fail(p[key], p.name(key), "must not be negative");
		}
	}
	if (d.has("datum_tries")) {
		s.datum_tries = d.integer("datum_tries");
		if (s.datum_tries < 1)
			c.fail(d["datum_tries"], d.name("datum_tries"), "must be at least 1");
	}
	for (auto [key, dst] : {std::pair<const char *, std::string *>{"datum_timeout", &s.datum_timeout},
				{"job_timeout", &s.job_timeout}}) {
		if (!d.has(key))
			continue;
		*dst = d.str(key);
		if (parse_duration(*dst) < 0)
			c.fail(d[key], d.name(key), "bad duration '" + *dst + "' (e.g. 30s, 5m, 1h30m)");
	}
	if (d.has("output_branch")) {
		s.output_branch = d.str("output_branch");
		if (!valid_branch_name(s.output_branch))
			c.fail(d["output_branch"], d.name("output_branch"), "invalid branch name '" + s.output_branch + "'");
	}
	if (d.has("resource_limits"))
		s.limits = parse_resources(c, d.sub("resource_limits"));
	if (d.has("resource_requests"))
		s.requests = parse_resources(c, d.sub("resource_requests"));
	s.memory = s.limits.memory;
	s.cpu = s.limits.cpu;
	if (d.has("reprocess_spec")) {
		s.reprocess_spec = d.str("reprocess_spec");
		if (s.reprocess_spec != "until_success" && s.reprocess_spec != "every_job")
			c.fail(d["reprocess_spec"], d.name("reprocess_spec"), "expected until_success or every_job");
	}
	if (d.has("network"))
		s.network = d.boolean("network");
	s.source = readable_yaml(doc);
	return s;
}

} // namespace

// Block style throughout: a spec given as JSON (flow style) reads as YAML.
std::string readable_yaml(const YAML::Node &doc)
{
	YAML::Node n = YAML::Clone(doc);
	std::vector<YAML::Node> todo{n};
	while (!todo.empty()) {
		YAML::Node x = todo.back();
		todo.pop_back();
		if (x.IsMap() || x.IsSequence()) {
			x.SetStyle(YAML::EmitterStyle::Block);
			for (auto it = x.begin(); it != x.end(); ++it)
				todo.push_back(x.IsMap() ? it->second : *it);
		}
	}
	YAML::Emitter e;
	e << n;
	return std::string(e.c_str()) + "\n";
}

std::string readable_yaml(const std::string &text)
{
	try {
		return readable_yaml(YAML::Load(text));
	} catch (const YAML::Exception &) {
		return text;
	}
}

ParseResult parse_specs(const std::string &text, const std::string &file)
{
	ParseResult r;
	Ctx c{file, &r.warnings};
	// Documents are split here and loaded one by one: yaml-cpp 0.7's
	// LoadAll loops for ever (allocating) on some malformed input, which
	// its Load does not.  Each document keeps its lines' numbers (blank
	// lines stand in for the ones before it).
	std::vector<YAML::Node> docs;
	size_t line = 0, start_line = 0, start = 0, i = 0;
	auto load = [&](size_t end) {
		std::string doc = std::string(start_line, '\n') + text.substr(start, end - start);
		try {
			docs.push_back(YAML::Load(doc));
		} catch (const YAML::DeepRecursion &e) {
			// yaml-cpp's depth guard reports itself as "bad file".
			die("{}:{}: nested too deeply", file, e.mark.line + 1);
		} catch (const YAML::ParserException &e) {
			die("{}:{}: {}", file, e.mark.line + 1, e.msg);
		}
	};
	while (i <= text.size()) {
		size_t e = text.find('\n', i);
		if (e == std::string::npos)
			e = text.size();
		bool sep = text.compare(i, 3, "---") == 0 && (e == i + 3 || text[i + 3] == ' ' || text[i + 3] == '\t' ||
							     text[i + 3] == '\r');
		if (sep) {
			load(i);
			start = i;   // the "---" line itself starts the next document
			start_line = line;
		}
		i = e + 1;
		line++;
	}
	load(text.size());
	std::set<std::string> names;
	for (auto &d : docs) {
		if (d.IsNull())
			continue;
		try {
			auto s = parse_one(c, d);
			if (!names.insert(s.name).second)
				die("{}:{}: field 'pipeline.name': pipeline '{}' is defined twice", file, s.line, s.name);
			r.specs.push_back(std::move(s));
		} catch (const YAML::Exception &e) {
			die("{}:{}: {}", file, e.mark.line + 1, e.msg);
		}
	}
	if (r.specs.empty())
		die("{}: no pipeline spec found", file);
	return r;
}

ParseResult parse_spec_file(const std::string &path)
{
	std::string text;
	if (path == "-") {
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
			text.append(buf, n);
	} else {
		if (!path_exists(path))
			die("unable to read '{}': No such file or directory", path);
		text = read_file_small(path);
	}
	return parse_specs(text, path == "-" ? "<stdin>" : path);
}

std::vector<std::pair<std::string, std::string>> input_repos(const PipelineSpec &s)
{
	std::vector<std::pair<std::string, std::string>> out;
	std::function<void(const Input &)> rec = [&](const Input &in) {
		if (in.kind == Input::pfs)
			out.push_back({in.pfs_in.name, in.pfs_in.repo});
		else if (in.kind == Input::cron)
			out.push_back({in.cron_in.name, in.cron_in.repo});
		for (auto &ch : in.children)
			rec(ch);
	};
	rec(s.input);
	return out;
}

double parse_duration(const std::string &d)
{
	if (d.empty())
		return -1;
	double total = 0;
	size_t i = 0;
	while (i < d.size()) {
		size_t j = i;
		while (j < d.size() && (isdigit((unsigned char)d[j]) || d[j] == '.'))
			j++;
		if (j == i)
			return -1;
		double v = std::stod(d.substr(i, j - i));
		size_t k = j;
		while (k < d.size() && isalpha((unsigned char)d[k]))
			k++;
		std::string unit = d.substr(j, k - j);
		if (unit == "h")
			v *= 3600;
		else if (unit == "m")
			v *= 60;
		else if (unit == "s")
			;
		else if (unit == "ms")
			v /= 1000;
		else
			return -1;
		total += v;
		i = k;
	}
	return total;
}

} // namespace pach::runner
