#include "runner/spec.h"

#include "plumbing/address.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/glob.h"
#include "runner/cron.h"
#include "runner/runtime.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <functional>
#include <set>

namespace pach::runner {

namespace {

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
	// Warn about every key of map `n` not in `known`.
	void check_keys(const YAML::Node &n, const std::string &prefix, std::initializer_list<const char *> known) const
	{
		for (auto it = n.begin(); it != n.end(); ++it) {
			std::string k = it->first.as<std::string>();
			bool ok = false;
			for (const char *x : known)
				ok |= k == x;
			if (!ok)
				warn(it->first, fmt::format("field '{}{}' is not supported by pach yet (ignored)", prefix, k));
		}
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
	std::vector<std::string> strings(const YAML::Node &n, const std::string &field) const
	{
		if (!n.IsSequence())
			fail(n, field, "expected a list of strings");
		std::vector<std::string> v;
		for (auto x : n)
			v.push_back(str(x, field));
		return v;
	}
	// A map that must be a map.
	void need_map(const YAML::Node &n, const std::string &field) const
	{
		if (!n.IsMap())
			fail(n, field, "expected a mapping");
	}
};

Input parse_input(const Ctx &c, const YAML::Node &n, const std::string &field);

std::vector<Input> parse_list(const Ctx &c, const YAML::Node &n, const std::string &field)
{
	if (!n.IsSequence() || n.size() == 0)
		c.fail(n, field, "expected a non-empty list of inputs");
	std::vector<Input> v;
	for (size_t i = 0; i < n.size(); i++)
		v.push_back(parse_input(c, n[i], fmt::format("{}[{}]", field, i)));
	return v;
}

Input parse_input(const Ctx &c, const YAML::Node &n, const std::string &field)
{
	c.need_map(n, field);
	if (n.size() != 1)
		c.fail(n, field, "expected exactly one of pfs, cross, union, join, group, cron");
	Input in;
	in.line = n.Mark().line + 1;
	std::string kind = n.begin()->first.as<std::string>();
	YAML::Node v = n.begin()->second;
	std::string f = field + "." + kind;
	if (kind == "pfs") {
		in.kind = Input::pfs;
		c.need_map(v, f);
		c.check_keys(v, f + ".", {"name", "repo", "branch", "glob", "lazy", "empty_files", "join_on", "outer_join",
					  "group_by", "repo_type", "commit", "s3", "trigger"});
		for (const char *unsupported : {"repo_type", "commit", "s3", "trigger"})
			if (v[unsupported])
				c.warn(v[unsupported], fmt::format("field '{}.{}' is not supported by pach yet (ignored)", f, unsupported));
		PfsInput &p = in.pfs_in;
		if (!v["repo"])
			c.fail(v, f + ".repo", "missing");
		p.repo = c.str(v["repo"], f + ".repo");
		if (!valid_repo_name(p.repo))
			c.fail(v["repo"], f + ".repo", "invalid repo name '" + p.repo + "'");
		p.name = v["name"] ? c.str(v["name"], f + ".name") : p.repo;
		// The name becomes /pfs/<name> and an environment variable.
		if (!valid_repo_name(p.name))
			c.fail(v["name"], f + ".name", "invalid input name '" + p.name + "': use letters, digits, '_' and '-'");
		if (v["branch"]) {
			p.branch = c.str(v["branch"], f + ".branch");
			if (!valid_branch_name(p.branch))
				c.fail(v["branch"], f + ".branch", "invalid branch name '" + p.branch + "'");
		}
		if (!v["glob"])
			c.fail(v, f + ".glob", "missing");
		p.glob = c.str(v["glob"], f + ".glob");
		try {
			Glob g(p.glob);
		} catch (const Error &e) {
			c.fail(v["glob"], f + ".glob", e.what());
		}
		if (v["lazy"])
			p.lazy = c.boolean(v["lazy"], f + ".lazy");
		if (v["empty_files"])
			p.empty_files = c.boolean(v["empty_files"], f + ".empty_files");
		// Accepted, not honoured yet: say so rather than pretend.
		if (v["outer_join"])
			p.outer_join = c.boolean(v["outer_join"], f + ".outer_join");
		if (v["join_on"])
			p.join_on = c.str(v["join_on"], f + ".join_on");
		if (v["group_by"])
			p.group_by = c.str(v["group_by"], f + ".group_by");
	} else if (kind == "cron") {
		in.kind = Input::cron;
		c.need_map(v, f);
		c.check_keys(v, f + ".", {"name", "repo", "spec", "start", "overwrite"});
		CronInput &cr = in.cron_in;
		if (!v["name"])
			c.fail(v, f + ".name", "missing");
		cr.name = c.str(v["name"], f + ".name");
		if (!valid_repo_name(cr.name))
			c.fail(v["name"], f + ".name", "invalid input name '" + cr.name + "': use letters, digits, '_' and '-'");
		if (!v["spec"])
			c.fail(v, f + ".spec", "missing");
		cr.spec = c.str(v["spec"], f + ".spec");
		try {
			check_cron_spec(cr.spec);
		} catch (const Error &e) {
			c.fail(v["spec"], f + ".spec", e.what());
		}
		if (v["repo"]) {
			cr.repo = c.str(v["repo"], f + ".repo");
			if (!valid_repo_name(cr.repo))
				c.fail(v["repo"], f + ".repo", "invalid repo name '" + cr.repo + "'");
		}
		if (v["start"])
			cr.start = c.str(v["start"], f + ".start");
		if (v["overwrite"])
			cr.overwrite = c.boolean(v["overwrite"], f + ".overwrite");
	} else if (kind == "cross" || kind == "union" || kind == "join" || kind == "group") {
		in.kind = kind == "cross" ? Input::cross : kind == "union" ? Input::union_ : kind == "join" ? Input::join
											: Input::group;
		in.children = parse_list(c, v, f);
		if (in.kind == Input::join || in.kind == Input::group) {
			for (size_t i = 0; i < in.children.size(); i++) {
				auto &ch = in.children[i];
				std::string key = in.kind == Input::join ? "join_on" : "group_by";
				if (ch.kind != Input::pfs)
					c.fail(v[i], fmt::format("{}[{}]", f, i), "a " + kind + " takes pfs inputs");
				if ((in.kind == Input::join ? ch.pfs_in.join_on : ch.pfs_in.group_by).empty())
					c.fail(v[i], fmt::format("{}[{}].pfs.{}", f, i, key), "missing (every " + kind +
												     " input needs one)");
			}
		}
	} else {
		c.fail(n, field, "unknown input type '" + kind + "' (expected pfs, cross, union, join, group or cron)");
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

PipelineSpec parse_one(const Ctx &c, const YAML::Node &doc)
{
	PipelineSpec s;
	s.file = c.file;
	s.line = doc.Mark().line + 1;
	c.need_map(doc, "(document)");
	c.check_keys(doc, "", {"pipeline", "description", "transform", "input", "parallelism_spec", "datum_tries",
			       "datum_timeout", "job_timeout", "output_branch", "resource_limits", "reprocess_spec",
			       "runtime", "network"});
	if (!doc["pipeline"] || !doc["pipeline"]["name"])
		c.fail(doc, "pipeline.name", "missing");
	c.need_map(doc["pipeline"], "pipeline");
	c.check_keys(doc["pipeline"], "pipeline.", {"name", "project"});
	s.name = c.str(doc["pipeline"]["name"], "pipeline.name");
	if (!valid_repo_name(s.name))
		c.fail(doc["pipeline"]["name"], "pipeline.name", "invalid name '" + s.name + "': use letters, digits, '_' and '-'");
	if (doc["description"])
		s.description = c.str(doc["description"], "description");

	YAML::Node t = doc["transform"];
	if (!t)
		c.fail(doc, "transform", "missing");
	c.need_map(t, "transform");
	c.check_keys(t, "transform.", {"image", "cmd", "stdin", "env", "working_dir", "user", "accept_return_code",
				       "err_cmd", "err_stdin"});
	if (doc["runtime"])
		s.runtime = c.str(doc["runtime"], "runtime");
	if (!s.runtime.empty() && !known_runtime(s.runtime))
		c.fail(doc["runtime"], "runtime", "unknown runtime '" + s.runtime +
							  "' (expected runc, crun, bwrap, docker, podman or local)");
	if (t["image"])
		s.transform.image = c.str(t["image"], "transform.image");
	if (s.transform.image.empty() && s.runtime != "local")
		c.fail(t, "transform.image", "missing (only the 'local' runtime runs without an image)");
	if (!t["cmd"])
		c.fail(t, "transform.cmd", "missing");
	s.transform.cmd = c.strings(t["cmd"], "transform.cmd");
	if (s.transform.cmd.empty())
		c.fail(t["cmd"], "transform.cmd", "empty");
	if (t["stdin"])
		s.transform.stdin_lines = c.strings(t["stdin"], "transform.stdin");
	if (t["err_cmd"])
		s.transform.err_cmd = c.strings(t["err_cmd"], "transform.err_cmd");
	if (t["err_stdin"])
		s.transform.err_stdin = c.strings(t["err_stdin"], "transform.err_stdin");
	if (t["env"]) {
		c.need_map(t["env"], "transform.env");
		for (auto it = t["env"].begin(); it != t["env"].end(); ++it)
			s.transform.env[it->first.as<std::string>()] = c.str(it->second, "transform.env." + it->first.as<std::string>());
	}
	if (t["working_dir"])
		s.transform.working_dir = c.str(t["working_dir"], "transform.working_dir");
	if (t["user"]) {
		s.transform.user = c.str(t["user"], "transform.user");
		if (s.transform.user.empty() || s.transform.user[0] == ':' || s.transform.user.back() == ':')
			c.fail(t["user"], "transform.user", "bad user '" + s.transform.user + "' (e.g. 1000, 1000:100, nobody)");
	}
	if (t["accept_return_code"]) {
		if (!t["accept_return_code"].IsSequence())
			c.fail(t["accept_return_code"], "transform.accept_return_code", "expected a list of numbers");
		for (auto x : t["accept_return_code"])
			s.transform.accept_return_code.push_back(c.integer(x, "transform.accept_return_code"));
	}

	if (!doc["input"])
		c.fail(doc, "input", "missing");
	s.input = parse_input(c, doc["input"], "input");
	datum_names(c, s.input, doc["input"]);
	// Cron repos default to <pipeline>_<name>.
	std::function<void(Input &)> fix = [&](Input &in) {
		if (in.kind == Input::cron && in.cron_in.repo.empty())
			in.cron_in.repo = s.name + "_" + in.cron_in.name;
		for (auto &ch : in.children)
			fix(ch);
	};
	fix(s.input);

	if (doc["parallelism_spec"]) {
		YAML::Node p = doc["parallelism_spec"];
		c.need_map(p, "parallelism_spec");
		c.check_keys(p, "parallelism_spec.", {"constant"});
		if (p["constant"])
			s.parallelism = c.integer(p["constant"], "parallelism_spec.constant");
		if (s.parallelism < 1)
			c.fail(p["constant"], "parallelism_spec.constant", "must be at least 1");
	}
	if (doc["datum_tries"]) {
		s.datum_tries = c.integer(doc["datum_tries"], "datum_tries");
		if (s.datum_tries < 1)
			c.fail(doc["datum_tries"], "datum_tries", "must be at least 1");
	}
	for (auto [key, dst] : {std::pair<const char *, std::string *>{"datum_timeout", &s.datum_timeout},
				{"job_timeout", &s.job_timeout}}) {
		if (!doc[key])
			continue;
		*dst = c.str(doc[key], key);
		if (parse_duration(*dst) < 0)
			c.fail(doc[key], key, "bad duration '" + *dst + "' (e.g. 30s, 5m, 1h30m)");
	}
	if (doc["output_branch"]) {
		s.output_branch = c.str(doc["output_branch"], "output_branch");
		if (!valid_branch_name(s.output_branch))
			c.fail(doc["output_branch"], "output_branch", "invalid branch name '" + s.output_branch + "'");
	}
	if (doc["resource_limits"]) {
		YAML::Node r = doc["resource_limits"];
		c.need_map(r, "resource_limits");
		c.check_keys(r, "resource_limits.", {"memory", "cpu"});
		if (r["memory"]) {
			s.memory = c.str(r["memory"], "resource_limits.memory");
			if (parse_memory(s.memory) < 0)
				c.fail(r["memory"], "resource_limits.memory", "bad size '" + s.memory + "' (e.g. 512Mi, 1G)");
		}
		if (r["cpu"]) {
			s.cpu = c.str(r["cpu"], "resource_limits.cpu");
			if (parse_cpu(s.cpu) < 0)
				c.fail(r["cpu"], "resource_limits.cpu", "bad cpu count '" + s.cpu + "' (e.g. 0.5, 2, 500m)");
		}
	}
	if (doc["reprocess_spec"]) {
		s.reprocess_spec = c.str(doc["reprocess_spec"], "reprocess_spec");
		if (s.reprocess_spec != "until_success" && s.reprocess_spec != "every_job")
			c.fail(doc["reprocess_spec"], "reprocess_spec", "expected until_success or every_job");
	}
	if (doc["network"])
		s.network = c.boolean(doc["network"], "network");
	YAML::Emitter e;
	e << doc;
	s.source = std::string(e.c_str()) + "\n";
	return s;
}

} // namespace

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
