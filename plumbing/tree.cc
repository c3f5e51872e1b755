#include "plumbing/tree.h"

#include "plumbing/error.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <strings.h>

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

std::vector<TreeEntry> parse_tree(const std::string &raw, const std::string &what)
{
	std::vector<TreeEntry> v;
	size_t i = 0;
	while (i < raw.size()) {
		TreeEntry e;
		uint32_t mode = 0;
		while (i < raw.size() && raw[i] != ' ') {
			if (raw[i] < '0' || raw[i] > '7')
				die("malformed tree {}", what);
			mode = mode * 8 + (uint32_t)(raw[i] - '0');
			i++;
		}
		i++;
		size_t nul = raw.find('\0', i);
		if (nul == std::string::npos || nul + 21 > raw.size())
			die("malformed tree {}", what);
		e.name = raw.substr(i, nul - i);
		std::memcpy(e.oid.b.data(), raw.data() + nul + 1, 20);
		e.mode = mode;
		i = nul + 21;
		v.push_back(std::move(e));
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

bool valid_tree_name(const std::string &n)
{
	if (n.empty() || n == "." || n == ".." || strcasecmp(n.c_str(), ".git") == 0)
		return false;
	return n.find('/') == std::string::npos && n.find('\0') == std::string::npos;
}

} // namespace pach
