#include "porcelain/history.h"
#include "plumbing/tree_edit.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/lg2.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace pach::porcelain {

std::vector<CommitInfo> log(const Store &s, const Oid &start, int max)
{
	std::vector<CommitInfo> out;
	for (auto &o : walk_history(s, start, max))
		out.push_back(s.read_commit(o));
	return out;
}

static bool wanted(const std::string &path, bool is_dir, const std::vector<std::string> &paths)
{
	if (paths.empty())
		return true;
	for (auto &p : paths) {
		if (path == p)
			return true;
		if (path.size() > p.size() && path.compare(0, p.size(), p) == 0 && path[p.size()] == '/')
			return true; // inside a wanted directory
		if (is_dir && p.size() > path.size() && p.compare(0, path.size(), path) == 0 && p[path.size()] == '/')
			return true; // on the way to a wanted path
	}
	return false;
}

static void emit_all(const Store &s, const TreeEntry &e, const std::string &path, char status,
		     const std::vector<std::string> &paths, std::vector<Change> &out)
{
	if (!wanted(path, e.is_dir(), paths))
		return;
	if (!e.is_dir()) {
		Change c{status, path, {}, {}, {}};
		(status == 'A' ? c.new_e : c.old_e) = e;
		out.push_back(c);
		return;
	}
	walk_tree(s, e.oid, [&](const std::string &p, const TreeEntry &k) {
		std::string full = path + "/" + p;
		if (!wanted(full, k.is_dir(), paths))
			return false;
		if (!k.is_dir()) {
			Change c{status, full, {}, {}, {}};
			(status == 'A' ? c.new_e : c.old_e) = k;
			out.push_back(c);
		}
		return true;
	});
}

static void diff_rec(const Store &s, const Oid &a, const Oid &b, const std::string &prefix,
		     const std::vector<std::string> &paths, std::vector<Change> &out, int depth = 0)
{
	if (a == b)
		return;
	if (depth >= kMaxTreeDepth)
		die("'{}' is nested more than {} directories deep", prefix, kMaxTreeDepth);
	auto ea = s.read_tree(a), eb = s.read_tree(b);
	// Match by name: the two lists are in git order, but a name may be a
	// file on one side and a directory on the other, so use a map walk.
	std::sort(ea.begin(), ea.end(), [](auto &x, auto &y) { return x.name < y.name; });
	std::sort(eb.begin(), eb.end(), [](auto &x, auto &y) { return x.name < y.name; });
	size_t i = 0, j = 0;
	auto join = [&](const std::string &n) { return prefix.empty() ? n : prefix + "/" + n; };
	while (i < ea.size() || j < eb.size()) {
		int c = i == ea.size() ? 1 : j == eb.size() ? -1 : ea[i].name.compare(eb[j].name);
		if (c < 0) {
			emit_all(s, ea[i], join(ea[i].name), 'D', paths, out);
			i++;
		} else if (c > 0) {
			emit_all(s, eb[j], join(eb[j].name), 'A', paths, out);
			j++;
		} else {
			auto &x = ea[i], &y = eb[j];
			std::string p = join(x.name);
			if (x.oid != y.oid || x.mode != y.mode) {
				if (x.is_dir() && y.is_dir()) {
					if (wanted(p, true, paths))
						diff_rec(s, x.oid, y.oid, p, paths, out, depth + 1);
				} else if (x.is_dir() || y.is_dir()) {
					emit_all(s, x, p, 'D', paths, out);
					emit_all(s, y, p, 'A', paths, out);
				} else if (wanted(p, false, paths)) {
					bool type = (x.mode == kModeLink) != (y.mode == kModeLink);
					out.push_back({type ? 'T' : 'M', p, x, y, {}});
				}
			}
			i++;
			j++;
		}
	}
}

std::vector<Change> diff_trees(const Store &s, const Oid &a, const Oid &b, const std::vector<std::string> &paths)
{
	std::vector<Change> out;
	diff_rec(s, a, b, "", paths, out);
	std::stable_sort(out.begin(), out.end(), [](auto &x, auto &y) { return x.path < y.path; });
	return out;
}

// Beyond this a text diff would need the whole files in memory; treat as binary.
static constexpr uint64_t kMaxTextDiff = 32ull << 20;

// The new side of a work tree change: the file's content (bounded by the
// caller: only read below kMaxTextDiff) or a symlink's target.
static std::string file_content(const std::string &path, uint32_t mode, size_t max)
{
	if (mode == kModeLink) {
		char buf[4096];
		ssize_t n = readlink(path.c_str(), buf, sizeof buf);
		return n < 0 ? std::string() : std::string(buf, (size_t)n);
	}
	Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd)
		die_errno("unable to open '" + path + "'");
	std::string out;
	char buf[65536];
	while (out.size() < max) {
		size_t n = read_full(fd.get(), buf, std::min(sizeof buf, max - out.size()), path);
		if (!n)
			break;
		out.append(buf, n);
	}
	return out;
}

static uint64_t file_size(const std::string &path)
{
	struct stat st;
	return lstat(path.c_str(), &st) == 0 ? (uint64_t)st.st_size : 0;
}

static uint64_t blob_size(const Store &s, const TreeEntry &e)
{
	if (e.mode == 0)
		return 0;
	auto r = s.odb().open(e.oid);
	if (!r)
		die("object {} is missing", e.oid.hex());
	return r->size();
}

static bool looks_binary(const Store &s, const TreeEntry &e)
{
	if (e.mode == 0)
		return false;
	auto r = s.odb().open(e.oid);
	char buf[8000];
	size_t n = r->read(buf, sizeof buf);
	return std::memchr(buf, 0, n) != nullptr;
}

static uint64_t new_size(const Store &s, const Change &c)
{
	if (c.new_file.empty() || !c.new_e.mode)
		return blob_size(s, c.new_e);
	return file_size(c.new_file);
}

static bool new_binary(const Store &s, const Change &c)
{
	if (c.new_file.empty() || !c.new_e.mode)
		return looks_binary(s, c.new_e);
	std::string head = file_content(c.new_file, c.new_e.mode, 8000);
	return std::memchr(head.data(), 0, head.size()) != nullptr;
}

static TextDiff text_diff(const Store &s, const Change &c)
{
	std::optional<Oid> old_blob = c.old_e.mode ? std::optional<Oid>(c.old_e.oid) : std::nullopt;
	if (!c.new_file.empty() && c.new_e.mode) {
		std::string buf = file_content(c.new_file, c.new_e.mode, kMaxTextDiff + 1);
		return diff_text(s, c.path, old_blob, std::nullopt, &buf);
	}
	return diff_text(s, c.path, old_blob, c.new_e.mode ? std::optional<Oid>(c.new_e.oid) : std::nullopt);
}

static std::string header(const Change &c)
{
	std::string h = "diff --git a/" + c.path + " b/" + c.path + "\n";
	if (c.status == 'A')
		h += fmt::format("new file mode {:o}\n", c.new_e.mode);
	else if (c.status == 'D')
		h += fmt::format("deleted file mode {:o}\n", c.old_e.mode);
	else if (c.old_e.mode != c.new_e.mode)
		h += fmt::format("old mode {:o}\nnew mode {:o}\n", c.old_e.mode, c.new_e.mode);
	if (c.old_e.mode && c.new_e.mode && c.old_e.oid == c.new_e.oid)
		return h;   // a mode change only: git prints no index line
	std::string ao = c.old_e.mode ? c.old_e.oid.hex().substr(0, 7) : "0000000";
	std::string bo = c.new_e.mode ? c.new_e.oid.hex().substr(0, 7) : "0000000";
	h += "index " + ao + ".." + bo;
	if (c.status == 'M' && c.old_e.mode == c.new_e.mode)
		h += fmt::format(" {:o}", c.new_e.mode);
	return h + "\n";
}

std::string patch_text(const Store &s, const Change &c)
{
	std::string out = header(c);
	if (c.old_e.mode && c.new_e.mode && c.old_e.oid == c.new_e.oid)
		return out; // mode change only
	bool binary = blob_size(s, c.old_e) > kMaxTextDiff || new_size(s, c) > kMaxTextDiff ||
		      looks_binary(s, c.old_e) || new_binary(s, c);
	std::string a = c.old_e.mode ? "a/" + c.path : "/dev/null";
	std::string b = c.new_e.mode ? "b/" + c.path : "/dev/null";
	if (binary)
		return out + "Binary files " + a + " and " + b + " differ\n";
	out += "--- " + a + "\n+++ " + b + "\n";
	out += text_diff(s, c).hunks;
	return out;
}

LineStat line_stat(const Store &s, const Change &c)
{
	LineStat st;
	st.old_size = blob_size(s, c.old_e);
	st.new_size = new_size(s, c);
	if (st.old_size > kMaxTextDiff || st.new_size > kMaxTextDiff || looks_binary(s, c.old_e) ||
	    new_binary(s, c)) {
		st.binary = true;
		return st;
	}
	TextDiff d = text_diff(s, c);
	st.added = d.added;
	st.removed = d.removed;
	return st;
}

} // namespace pach::porcelain
