#include "runner/manifest.h"

#include "plumbing/address.h"
#include "plumbing/error.h"
#include "plumbing/tree.h"

#include <fmt/format.h>

#include <cstdlib>

namespace pach::runner {

namespace {

bool plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       std::string_view("._/@:+=,~-").find((char)c) != std::string_view::npos;
}

// Lines of a manifest, one at a time, with the fields of each.
class Lines {
public:
	Lines(std::string_view t, const std::string &where) : t_(t), where_(where) {}
	bool next()
	{
		if (pos_ >= t_.size())
			return false;
		size_t nl = t_.find('\n', pos_);
		if (nl == std::string_view::npos)
			bad("last line not terminated");
		std::string_view l = t_.substr(pos_, nl - pos_);
		pos_ = nl + 1;
		line_++;
		f_.clear();
		size_t i = 0;
		while (i <= l.size()) {
			size_t sp = l.find(' ', i);
			if (sp == std::string_view::npos)
				sp = l.size();
			f_.push_back(l.substr(i, sp - i));
			i = sp + 1;
		}
		return true;
	}
	// The next n raw bytes (the spec), then a newline.
	std::string_view raw(size_t n)
	{
		if (n > t_.size() - pos_ || pos_ + n >= t_.size() || t_[pos_ + n] != '\n')
			bad("truncated");
		std::string_view r = t_.substr(pos_, n);
		pos_ += n + 1;
		return r;
	}
	size_t size() const { return f_.size(); }
	std::string_view operator[](size_t i) const { return f_[i]; }
	void want(std::string_view kw, size_t n)
	{
		if (f_.empty() || f_[0] != kw || f_.size() != n)
			bad(fmt::format("expected '{}' with {} fields", kw, n - 1));
	}
	[[noreturn]] void bad(const std::string &why) const { die("{}:{}: bad manifest: {}", where_, line_, why); }
	uint64_t number(std::string_view s, uint64_t max) const
	{
		if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string_view::npos ||
		    (s.size() > 1 && s[0] == '0'))
			bad("not a number: '" + std::string(s.substr(0, 40)) + "'");
		uint64_t v = std::stoull(std::string(s));
		if (v > max)
			bad("number out of range");
		return v;
	}
	Oid oid(std::string_view s) const
	{
		auto o = Oid::from_hex(s);
		if (!o || s.size() != 40 || s.find_first_not_of("0123456789abcdef") != std::string_view::npos)
			bad("not an object id");
		return *o;
	}
	std::optional<Oid> opt_oid(std::string_view s) const
	{
		if (s == "-")
			return std::nullopt;
		return oid(s);
	}
	std::string field(std::string_view s) const
	{
		auto v = parse_manifest_field(s);
		if (!v)
			bad("badly encoded field");
		return *v;
	}

private:
	std::string_view t_;
	const std::string &where_;
	size_t pos_ = 0, line_ = 0;
	std::vector<std::string_view> f_;
};

std::string opt_hex(const std::optional<Oid> &o)
{
	return o ? o->hex() : "-";
}

// A datum file's path: "/" or "/a/b" of valid tree names.
bool valid_datum_path(const std::string &p)
{
	if (p == "/")
		return true;
	if (p.empty() || p[0] != '/')
		return false;
	size_t i = 1;
	while (i <= p.size()) {
		size_t sl = p.find('/', i);
		if (sl == std::string::npos)
			sl = p.size();
		if (!valid_tree_name(p.substr(i, sl - i)))
			return false;
		i = sl + 1;
	}
	return true;
}

constexpr uint64_t kMaxCount = 1ull << 40;

std::string file_flags(const DatumFile &f)
{
	std::string flags;
	if (f.has_join_on)
		flags += 'j';
	if (f.has_group_by)
		flags += 'g';
	if (f.outer_join)
		flags += 'o';
	if (f.empty_files)
		flags += 'e';
	if (f.lazy)
		flags += 'l';
	return flags;
}

} // namespace

std::string manifest_field(std::string_view s)
{
	if (s.empty())
		return "%";
	std::string out;
	for (unsigned char c : s) {
		if (plain(c))
			out += (char)c;
		else
			out += fmt::format("%{:02X}", c);
	}
	return out;
}

std::optional<std::string> parse_manifest_field(std::string_view s)
{
	if (s == "%")
		return std::string();
	if (s.empty())
		return std::nullopt;
	std::string out;
	for (size_t i = 0; i < s.size(); i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= s.size())
				return std::nullopt;
			auto hexv = [](char h) -> int {
				if (h >= '0' && h <= '9')
					return h - '0';
				if (h >= 'A' && h <= 'F')
					return h - 'A' + 10;
				return -1;
			};
			int a = hexv(s[i + 1]), b = hexv(s[i + 2]);
			if (a < 0 || b < 0 || plain((unsigned char)(a * 16 + b)))
				return std::nullopt;   // one spelling per string
			out += (char)(a * 16 + b);
			i += 2;
		} else if (plain(c)) {
			out += (char)c;
		} else {
			return std::nullopt;
		}
	}
	return out;
}

std::string format_job_manifest(const JobManifest &m)
{
	std::string packs;
	for (auto &[name, size] : m.packs)
		packs += fmt::format("pack {} {}\n", name, size);
	return fmt::format("pach-job 1\nid {}\npipeline {}\nimage {}\nruntime {}\ntasks {}\ndatums {}\npacks {}\n{}spec {}\n{}\n",
			   manifest_field(m.id), manifest_field(m.pipeline), manifest_field(m.image),
			   manifest_field(m.runtime), m.tasks, m.datums, m.packs.size(), packs, m.spec.size(), m.spec);
}

JobManifest parse_job_manifest(std::string_view text, const std::string &where)
{
	Lines l(text, where);
	JobManifest m;
	if (!l.next() || l.size() != 2 || l[0] != "pach-job" || l[1] != "1")
		l.bad("not a pach job manifest (version 1)");
	auto one = [&](const char *kw) {
		if (!l.next())
			l.bad("truncated");
		l.want(kw, 2);
		return l[1];
	};
	m.id = l.field(one("id"));
	m.pipeline = l.field(one("pipeline"));
	m.image = l.field(one("image"));
	m.runtime = l.field(one("runtime"));
	m.tasks = l.number(one("tasks"), kMaxCount);
	m.datums = l.number(one("datums"), kMaxCount);
	size_t np = l.number(one("packs"), 1 << 16);
	for (size_t i = 0; i < np; i++) {
		if (!l.next())
			l.bad("truncated");
		l.want("pack", 3);
		m.packs.push_back({l.oid(l[1]).hex(), l.number(l[2], kMaxCount)});
	}
	size_t n = l.number(one("spec"), 16 << 20);
	m.spec = std::string(l.raw(n));
	if (l.next())
		l.bad("trailing data");
	if (!valid_repo_name(m.pipeline))
		l.bad("bad pipeline name");
	if (m.id.size() != 32 || m.id.find_first_not_of("0123456789abcdef") != std::string::npos)
		l.bad("bad job id");
	return m;
}

std::string format_task(const TaskManifest &t)
{
	std::string out = "pach-task 1\n";
	for (auto &o : t.objects)
		out += "object " + o.hex() + "\n";
	for (auto &[id, d] : t.datums) {
		out += "datum " + id + "\n";
		for (auto &f : d.files) {
			std::string flags = file_flags(f);
			out += fmt::format("file {} {} {} {} {:o} {} {} {} {} {}\n", manifest_field(f.input),
					   manifest_field(f.repo), manifest_field(f.branch), opt_hex(f.commit), f.entry.mode,
					   f.entry.oid.hex(), manifest_field(flags), manifest_field(f.path),
					   manifest_field(f.join_key), manifest_field(f.group_key));
		}
	}
	return out;
}

TaskManifest parse_task(std::string_view text, const std::string &where)
{
	Lines l(text, where);
	TaskManifest t;
	if (!l.next() || l.size() != 2 || l[0] != "pach-task" || l[1] != "1")
		l.bad("not a pach task (version 1)");
	while (l.next()) {
		if (l.size() && l[0] == "object") {
			l.want("object", 2);
			if (!t.datums.empty())
				l.bad("object after datums");
			t.objects.push_back(l.oid(l[1]));
		} else if (l.size() && l[0] == "datum") {
			l.want("datum", 2);
			std::string id(l[1]);
			l.oid(id);   // 40 hex digits
			t.datums.push_back({id, Datum{}});
		} else {
			l.want("file", 11);
			if (t.datums.empty())
				l.bad("file before any datum");
			DatumFile f;
			f.input = l.field(l[1]);
			f.repo = l.field(l[2]);
			f.branch = l.field(l[3]);
			f.commit = l.opt_oid(l[4]);
			std::string mode(l[5]);
			if (mode != "40000" && mode != "100644" && mode != "100755" && mode != "120000")
				l.bad("bad mode");
			f.entry.mode = (uint32_t)std::stoul(mode, nullptr, 8);
			f.entry.oid = l.oid(l[6]);
			std::string flags = l.field(l[7]);
			f.has_join_on = flags.find('j') != std::string::npos;
			f.has_group_by = flags.find('g') != std::string::npos;
			f.outer_join = flags.find('o') != std::string::npos;
			f.empty_files = flags.find('e') != std::string::npos;
			f.lazy = flags.find('l') != std::string::npos;
			if (flags != file_flags(f))   // each once, in order
				l.bad("bad flags");
			f.path = l.field(l[8]);
			f.join_key = l.field(l[9]);
			f.group_key = l.field(l[10]);
			// Input names become /pfs/<input> and environment names:
			// the spec's rules (a repo name's); paths are tree names.
			if (!valid_repo_name(f.input) || !valid_repo_name(f.repo) || !valid_branch_name(f.branch))
				l.bad("bad input, repo or branch name");
			if (!valid_datum_path(f.path))
				l.bad("bad path");
			f.entry.name = f.path == "/" ? f.input : f.path.substr(f.path.rfind('/') + 1);
			t.datums.back().second.files.push_back(std::move(f));
		}
	}
	for (auto &[id, d] : t.datums)
		if (d.files.empty())
			l.bad("datum " + id + " has no files");
	return t;
}

std::string format_result(const TaskResult &r)
{
	std::string out = "pach-result 1\npack " + opt_hex(r.pack) + "\n";
	for (auto &d : r.datums)
		out += fmt::format("datum {} {} {} {} {:.6f} {}\n", d.id, state_name(d.state), opt_hex(d.out_tree),
				   opt_hex(d.log), d.secs, d.attempts);
	return out;
}

TaskResult parse_result(std::string_view text, const std::string &where)
{
	Lines l(text, where);
	TaskResult r;
	if (!l.next() || l.size() != 2 || l[0] != "pach-result" || l[1] != "1")
		l.bad("not a pach task result (version 1)");
	if (!l.next())
		l.bad("truncated");
	l.want("pack", 2);
	r.pack = l.opt_oid(l[1]);
	while (l.next()) {
		l.want("datum", 7);
		DatumRecord d;
		d.id = std::string(l[1]);
		l.oid(d.id);
		auto st = parse_datum_state(l[2]);
		if (!st || (*st != DatumState::success && *st != DatumState::failed && *st != DatumState::recovered))
			l.bad("bad datum state");
		d.state = *st;
		d.out_tree = l.opt_oid(l[3]);
		d.log = l.opt_oid(l[4]);
		std::string secs(l[5]);
		char *end = nullptr;
		d.secs = strtod(secs.c_str(), &end);
		if (secs.empty() || *end || !(d.secs >= 0 && d.secs < 1e9))
			l.bad("bad time");
		d.attempts = (int)l.number(l[6], 1000);
		r.datums.push_back(std::move(d));
	}
	return r;
}

std::string job_key(const JobManifest &m, const std::vector<std::string> &task_texts)
{
	JobManifest k = m;
	k.id = std::string(32, '0');
	k.packs.clear();
	std::string h = format_job_manifest(k);
	Sha1 s;
	s.update(h.data(), h.size());
	for (auto &t : task_texts) {
		std::string n = fmt::format("{}\n", t.size());
		s.update(n.data(), n.size());
		s.update(t.data(), t.size());
	}
	return s.final().hex();
}

std::vector<std::vector<size_t>> group_tasks(const std::vector<uint64_t> &sizes, int64_t number, int64_t size_bytes,
					     size_t per_task)
{
	std::vector<std::vector<size_t>> tasks;
	size_t max_n = number > 0 ? (size_t)number : size_bytes > 0 ? SIZE_MAX : std::max<size_t>(1, per_task);
	uint64_t bytes = 0;
	for (size_t i = 0; i < sizes.size(); i++) {
		bool full = !tasks.empty() && (tasks.back().size() >= max_n ||
					       (size_bytes > 0 && bytes + sizes[i] > (uint64_t)size_bytes));
		if (tasks.empty() || full) {
			tasks.emplace_back();
			bytes = 0;
		}
		tasks.back().push_back(i);
		bytes += sizes[i];
	}
	return tasks;
}

} // namespace pach::runner
