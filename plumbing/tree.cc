#include "plumbing/tree.h"

#include "plumbing/error.h"
#include "plumbing/quote.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <strings.h>

#include <set>
#include <unordered_set>

namespace pach {

bool tree_entry_less(const TreeEntry &a, const TreeEntry &b)
{
	size_t n = std::min(a.name.size(), b.name.size());
	int c = std::memcmp(a.name.data(), b.name.data(), n);
	if (c)
		return c < 0;
	unsigned char ca = a.name.size() > n ? (unsigned char)a.name[n] : (a.is_dir() ? '/' : 0);
	unsigned char cb = b.name.size() > n ? (unsigned char)b.name[n] : (b.is_dir() ? '/' : 0);
	return ca < cb;
}

void sort_tree(std::vector<TreeEntry> &v)
{
	// Usually already in order (names come sorted): check before sorting.
	if (!std::is_sorted(v.begin(), v.end(), tree_entry_less))
		std::sort(v.begin(), v.end(), tree_entry_less);
}

std::string serialize_tree(const std::vector<TreeEntry> &v)
{
	std::string out;
	size_t need = 0;
	for (auto &e : v)
		need += e.name.size() + 28;
	out.reserve(need);
	for (auto &e : v) {
		switch (e.mode) {
		case kModeFile: out.append("100644 ", 7); break;
		case kModeExec: out.append("100755 ", 7); break;
		case kModeDir: out.append("40000 ", 6); break;
		case kModeLink: out.append("120000 ", 7); break;
		default: {
			char mode[16];
			int n = snprintf(mode, sizeof mode, "%o ", e.mode);
			out.append(mode, (size_t)n);
		}
		}
		out += e.name;
		out.push_back('\0');
		out.append(reinterpret_cast<const char *>(e.oid.b.data()), 20);
	}
	return out;
}

namespace {

bool good_mode(uint32_t m)
{
	return m == kModeFile || m == kModeExec || m == kModeLink || m == kModeDir || m == kModeGitlink;
}

struct RawEntry {
	TreeEntry e;
	bool zero_padded = false, bad_mode_text = false;
};

// One entry at raw[i]; false at the end, dies naming `what` if malformed.
bool next_entry(const std::string &raw, size_t &i, RawEntry &r, const std::string &what)
{
	if (i >= raw.size())
		return false;
	uint32_t mode = 0;
	size_t start = i, digits = 0;
	while (i < raw.size() && raw[i] != ' ') {
		if (raw[i] < '0' || raw[i] > '7' || ++digits > 7)
			die("malformed tree {}", what);
		mode = mode * 8 + (uint32_t)(raw[i] - '0');
		i++;
	}
	if (i >= raw.size() || digits == 0)
		die("malformed tree {}", what);
	r.zero_padded = raw[start] == '0';
	i++;
	size_t nul = raw.find('\0', i);
	if (nul == std::string::npos || nul + 21 > raw.size())
		die("malformed tree {}", what);
	r.e.name.assign(raw, i, nul - i);
	std::memcpy(r.e.oid.b.data(), raw.data() + nul + 1, 20);
	r.e.mode = mode;
	i = nul + 21;
	return true;
}

// Unicode code points HFS+ ignores in names (git's next_hfs_char list).
bool hfs_ignorable(uint32_t cp)
{
	return (cp >= 0x200c && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x206a && cp <= 0x206f) ||
	       cp == 0xfeff;
}

// n equals `want` (lowercase ASCII, without the leading '.') on HFS+: case
// folded, ignorable code points skipped.
bool hfs_equals(const std::string &n, const char *want)
{
	size_t i = 0;
	auto next = [&]() -> uint32_t {
		while (i < n.size()) {
			unsigned char c = (unsigned char)n[i];
			if (c < 0x80) {
				i++;
				return (uint32_t)tolower(c);
			}
			// Decode one UTF-8 sequence; an invalid one is not ignorable.
			uint32_t cp;
			size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
			if (len == 1 || i + len > n.size())
				return 0x110000;
			cp = c & (0x7f >> len);
			for (size_t k = 1; k < len; k++)
				cp = cp << 6 | ((unsigned char)n[i + k] & 0x3f);
			i += len;
			if (!hfs_ignorable(cp))
				return cp;
		}
		return 0;
	};
	if (next() != '.')
		return false;
	for (const char *w = want; *w; w++)
		if (next() != (uint32_t)*w)
			return false;
	return next() == 0;
}

// git's is_ntfs_dotgit: ".git" or "git~1", any case, then only dots and
// spaces up to the end (or a '\\').
bool ntfs_dotgit(const std::string &n)
{
	size_t i = 0;
	auto lc = [&](size_t k) { return k < n.size() ? (char)tolower((unsigned char)n[k]) : '\0'; };
	if (lc(0) == '.' && lc(1) == 'g' && lc(2) == 'i' && lc(3) == 't')
		i = 4;
	else if (lc(0) == 'g' && lc(1) == 'i' && lc(2) == 't' && lc(3) == '~' && lc(4) == '1')
		i = 5;
	else
		return false;
	for (;; i++) {
		char c = lc(i);
		if (i >= n.size() || c == '\\')
			return true;
		if (c != '.' && c != ' ')
			return false;
	}
}

// ".gitmodules" as NTFS or HFS+ would see it.
bool is_gitmodules(const std::string &n)
{
	if (hfs_equals(n, "gitmodules"))
		return true;
	std::string t = n;
	while (!t.empty() && (t.back() == '.' || t.back() == ' '))
		t.pop_back();
	std::string l;
	for (char c : t)
		l += (char)tolower((unsigned char)c);
	return l == ".gitmodules" || l == "gitmod~1";
}

} // namespace

bool is_dotgit(const std::string &n)
{
	return hfs_equals(n, "git") || ntfs_dotgit(n);
}

bool reserved_name(const std::string &n)
{
	if (strcasecmp(n.c_str(), ".pach") == 0 || hfs_equals(n, "pach"))
		return true;
	// What pach writes beside a file while it is being replaced.
	static const char *const kSuffixes[] = {".pach-tmp"};
	for (const char *suf : kSuffixes) {
		size_t k = strlen(suf);
		if (n.size() >= k && strcasecmp(n.c_str() + n.size() - k, suf) == 0)
			return true;
	}
	return false;
}

std::string entry_name_problem(const std::string &n)
{
	if (n.empty())
		return "emptyName: contains empty pathname";
	if (n.find('/') != std::string::npos)
		return "fullPathname: contains full pathnames";
	if (n == ".")
		return "hasDot: contains '.'";
	if (n == "..")
		return "hasDotdot: contains '..'";
	if (is_dotgit(n))
		return "hasDotgit: contains '.git'";
	if (n.size() > kMaxNameBytes)
		return "pach: a name longer than 255 bytes";
	if (reserved_name(n))
		return "pach: a name pach reserves (.pach, *.pach-tmp)";
	return "";
}

std::vector<std::string> fsck_tree(const std::string &raw, const std::string &what)
{
	std::vector<std::string> out;
	std::set<std::string> kinds;
	auto add = [&](const std::string &p) {
		// One report per kind of problem and tree, as git's fsck.
		if (kinds.insert(p.substr(0, p.find(':'))).second)
			out.push_back(p);
	};
	std::unordered_set<std::string> names;
	size_t i = 0;
	RawEntry r, prev;
	bool have_prev = false;
	try {
		while (next_entry(raw, i, r, what)) {
			const TreeEntry &e = r.e;
			std::string np = entry_name_problem(e.name);
			if (!np.empty())
				add(np);
			if (r.zero_padded)
				add("zeroPaddedFilemode: contains zero-padded file modes");
			if (!good_mode(e.mode))
				add("badFilemode: contains bad file modes");
			if (e.oid.is_zero())
				add("nullSha1: contains entries pointing to null sha1");
			if (e.mode == kModeLink && is_gitmodules(e.name))
				add("gitmodulesSymlink: .gitmodules is a symbolic link");
			if (!names.insert(e.name).second)
				add("duplicateEntries: contains duplicate file entries");
			if (have_prev && !tree_entry_less(prev.e, e) && prev.e.name != e.name)
				add("treeNotSorted: not properly sorted");
			prev = r;
			have_prev = true;
		}
	} catch (const Error &) {
		add("badTree: could not be parsed");
	}
	return out;
}

std::vector<TreeEntry> parse_tree_unchecked(const std::string &raw, const std::string &what)
{
	std::vector<TreeEntry> v;
	size_t i = 0;
	RawEntry r;
	while (next_entry(raw, i, r, what))
		v.push_back(std::move(r.e));
	return v;
}

std::vector<TreeEntry> parse_tree(const std::string &raw, const std::string &what)
{
	std::vector<TreeEntry> v;
	size_t i = 0;
	RawEntry r;
	// The common case checked in one pass: good names and modes, strictly
	// in git's order (which rules out most duplicates).  Anything else goes
	// through fsck_tree for the precise complaint.
	bool ok = true;
	while (next_entry(raw, i, r, what)) {
		const TreeEntry &e = r.e;
		ok = ok && !r.zero_padded && good_mode(e.mode) && !e.oid.is_zero() && entry_name_problem(e.name).empty() &&
		     !(e.mode == kModeLink && is_gitmodules(e.name)) && (v.empty() || tree_entry_less(v.back(), e));
		v.push_back(std::move(r.e));
	}
	// A file "a" and a directory "a" sort apart ("a" < "a-" < "a/"): look
	// the file up for each directory.
	for (size_t k = 0; ok && k < v.size(); k++)
		if (v[k].is_dir()) {
			TreeEntry probe{v[k].name, kModeFile, {}};
			auto it = std::lower_bound(v.begin(), v.begin() + (ptrdiff_t)k, probe, tree_entry_less);
			ok = !(it != v.begin() + (ptrdiff_t)k && it->name == probe.name);
		}
	if (!ok) {
		auto problems = fsck_tree(raw, what);
		if (!problems.empty())
			die("tree {} is not safe to use ({}); refusing to read it", what, quote_path(problems[0]));
	}
	return v;
}

uint32_t git_mode_of(uint32_t st_mode)
{
	if (S_ISDIR(st_mode))
		return kModeDir;
	if (S_ISLNK(st_mode))
		return kModeLink;
	return (st_mode & S_IXUSR) ? kModeExec : kModeFile;
}

const Oid &empty_tree_oid()
{
	static const Oid o = *Oid::from_hex("4b825dc642cb6eb9a060e54bf8d69288fbee4904");
	return o;
}

void WalkBudget::take(uint64_t n)
{
	used_ += n;
	if (used_ > kMaxWalkEntries)
		die("{} expands to more than {} entries (a tree naming the same subtree many times?); refusing to walk it",
		    what_, kMaxWalkEntries);
}

bool valid_tree_name(const std::string &n)
{
	return n.find('\0') == std::string::npos && entry_name_problem(n).empty();
}

} // namespace pach
