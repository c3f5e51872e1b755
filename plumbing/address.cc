#include "plumbing/address.h"
#include "plumbing/number.h"
#include "plumbing/reflog.h"

#include "plumbing/error.h"
#include "plumbing/git.h"
#include "plumbing/meta.h"
#include "plumbing/store.h"

namespace pach {

bool valid_repo_name(const std::string &n)
{
	if (n.empty() || n.size() > 200)
		return false;
	for (unsigned char c : n)
		if (!(isalnum(c) || c == '_' || c == '-'))
			return false;
	return true;
}

void check_repo_name(const std::string &n)
{
	if (!valid_repo_name(n))
		die("invalid repo name '{}': use letters, digits, '_' and '-'", n);
}

// git's check-ref-format rules, applied to the branch part (so that
// refs/heads/<repo>/<branch> is a valid ref), plus pach's own: no '@'
// (addresses use it), not "HEAD", not starting with '-'.  Checked here
// rather than through libgit2, which costs a library start-up.
bool valid_branch_name(const std::string &n)
{
	if (n.empty() || n == "HEAD" || n[0] == '-' || n[0] == '/' || n.back() == '/' || n.back() == '.')
		return false;
	for (unsigned char c : n)
		if (c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' ||
		    c == '[' || c == '\\' || c == '@')
			return false;
	if (n.find("..") != std::string::npos || n.find("//") != std::string::npos)
		return false;
	bool ok = true;
	for_each_component(n, [&](const std::string &c) {
		if (c.empty() || c[0] == '.' ||
		    (c.size() >= 5 && c.compare(c.size() - 5, 5, ".lock") == 0))
			ok = false;
	});
	return ok;
}

void check_branch_name(const std::string &n)
{
	if (!valid_branch_name(n))
		die("invalid branch name '{}'", n);
}

bool valid_store_ref(const std::string &ref)
{
	if (ref == kMetaRef)
		return true;
	if (ref.size() > 1024)
		return false;
	if (ref.compare(0, 11, "refs/heads/") == 0) {
		std::string rest = ref.substr(11);
		auto slash = rest.find('/');
		return slash != std::string::npos && valid_repo_name(rest.substr(0, slash)) &&
		       valid_branch_name(rest.substr(slash + 1));
	}
	if (ref.compare(0, 20, "refs/pach/snapshots/") == 0)
		return valid_branch_name(ref.substr(20));
	return false;
}

std::string branch_ref(const std::string &repo, const std::string &branch)
{
	return "refs/heads/" + repo + "/" + branch;
}

std::vector<std::string> split_path(const std::string &p, const std::string &whole)
{
	std::vector<std::string> out;
	for_each_component(p, [&](const std::string &c) {
		if (c == "..")
			die("invalid path in '{}': '..' is not allowed", whole);
		if (c.empty() || c == ".")
			return;
		if (!valid_tree_name(c))
			die("invalid path in '{}': '{}' cannot be stored", whole, c);
		out.push_back(c);
	});
	return out;
}

Address parse_address(const std::string &s)
{
	Address a;
	size_t end = s.find_first_of("@:");
	a.repo = s.substr(0, end);
	if (a.repo.empty())
		die("malformed address '{}': expected repo[@branch][:/path]", s);
	check_repo_name(a.repo);
	if (end == std::string::npos)
		return a;
	size_t pos = end;
	if (s[pos] == '@') {
		// A reflog selector (@{2}, @{2026-11-27 10:00}) may hold a ':'.
		size_t sel = s.find("@{", pos + 1), from = pos + 1;
		if (sel != std::string::npos && s.find('}', sel) != std::string::npos &&
		    (s.find(':', pos + 1) == std::string::npos || sel < s.find(':', pos + 1)))
			from = s.find('}', sel);
		size_t colon = s.find(':', from);
		a.ref = s.substr(pos + 1, colon == std::string::npos ? std::string::npos : colon - pos - 1);
		if (a.ref.empty())
			die("malformed address '{}': empty branch or commit after '@'", s);
		pos = colon;
	}
	if (pos != std::string::npos) {
		std::string p = s.substr(pos + 1);
		a.has_path = true;
		a.trailing_slash = !p.empty() && p.back() == '/';
		a.path = split_path(p, s);
	}
	return a;
}

std::string Address::path_str() const
{
	std::string p;
	for (auto &c : path)
		p += "/" + c;
	return p.empty() ? "/" : p;
}

std::string Address::str() const
{
	std::string s = repo + "@" + branch_or_default();
	if (has_path)
		s += ":" + path_str();
	return s;
}

static void split_suffix(const std::string &ref, std::string *base, std::string *suffix)
{
	size_t k = ref.find_first_of("~^");
	*base = ref.substr(0, k);
	*suffix = k == std::string::npos ? "" : ref.substr(k);
}

static bool is_hex(const std::string &s)
{
	if (s.size() < 4 || s.size() > 40)
		return false;
	for (char c : s)
		if (!isxdigit((unsigned char)c))
			return false;
	return true;
}

bool names_branch(const Store &s, const Address &a)
{
	std::string base, suffix;
	split_suffix(a.branch_or_default(), &base, &suffix);
	if (!suffix.empty())
		return false;
	if (s.ref(branch_ref(a.repo, base)))
		return true;
	if (is_hex(base) && base.size() == 40)
		return false;
	if (is_hex(base)) {
		git_object *o = nullptr;
		if (git_revparse_single(&o, lg2_repo(s), base.c_str()) == 0) {
			git_object_free(o);
			return false;
		}
	}
	return valid_branch_name(base);
}

// start followed by ~N / ^ (git's revision suffixes).
static Oid walk_suffix(const Store &s, const Oid &start, const std::string &suffix, const std::string &what,
		       const std::string &repo)
{
	if (suffix.empty())
		return start;
	std::string spec = start.hex() + suffix;
	git_object *o = nullptr;
	if (git_revparse_single(&o, lg2_repo(s), spec.c_str()) < 0)
		die("'{}' does not exist in repo '{}' (history is not that deep)", what, repo);
	GitObject obj(o);
	Oid id;
	std::memcpy(id.b.data(), git_object_id(o)->id, 20);
	return id;
}

// branch@{N} (the value N updates ago) or branch@{time} (the value then),
// from the branch's reflog; what follows the brace (~N, ^) applies after.
static Oid resolve_selector(const Store &s, const Address &a, const std::string &ref)
{
	size_t at = ref.find("@{");
	size_t close = ref.find('}', at);
	if (close == std::string::npos)
		die("malformed reflog selector in '{}'", a.str());
	std::string branch = ref.substr(0, at), sel = ref.substr(at + 2, close - at - 2), rest = ref.substr(close + 1);
	if (branch.empty())
		branch = "master";
	require_repo(s, a.repo);
	check_branch_name(branch);
	auto log = read_reflog(s, branch_ref(a.repo, branch));
	if (log.empty())
		die("no reflog for {}@{}", a.repo, branch);
	std::optional<Oid> at_value;
	if (!sel.empty() && std::all_of(sel.begin(), sel.end(), ::isdigit)) {
		size_t n = (size_t)parse_uint64(sel).value_or(SIZE_MAX);
		if (n >= log.size())
			die("log for {}@{} only has {} entries", a.repo, branch, log.size());
		at_value = log[log.size() - 1 - n].new_oid;
		if (!at_value)
			die("{}@{}@{{{}}} is the branch's deletion", a.repo, branch, n);
	} else {
		auto t = parse_time(sel, time(nullptr));
		if (!t)
			die("invalid time '{}' in '{}'", sel, a.str());
		auto v = ref_at(log, *t);
		if (!v || !*v)
			die("{}@{} did not exist at {}", a.repo, branch, sel);
		at_value = **v;
	}
	return walk_suffix(s, *at_value, rest, ref, a.repo);
}

Oid resolve_commit(const Store &s, const Address &a)
{
	std::string ref = a.branch_or_default();
	if (ref.find("@{") != std::string::npos)
		return resolve_selector(s, a, ref);
	std::string base, suffix;
	split_suffix(ref, &base, &suffix);
	if (base.empty())
		die("malformed address '{}'", a.str());
	std::optional<Oid> start = s.ref(branch_ref(a.repo, base));
	if (!start) {
		require_repo(s, a.repo);
		if (!is_hex(base)) {
			if (!valid_branch_name(base))
				die("invalid branch name '{}'", base);
			if (s.refs("refs/heads/" + a.repo + "/").empty())
				die("repo '{}' has no commits yet", a.repo);
			die("branch '{}' not found in repo '{}'", base, a.repo);
		}
		git_object *o = nullptr;
		int rc = git_revparse_single(&o, lg2_repo(s), base.c_str());
		if (rc == GIT_EAMBIGUOUS)
			die("short commit id '{}' is ambiguous", base);
		if (rc < 0)
			die("branch or commit '{}' not found in repo '{}'", base, a.repo);
		GitObject obj(o);
		if (git_object_type(o) != GIT_OBJECT_COMMIT)
			die("'{}' is not a commit", base);
		Oid id;
		std::memcpy(id.b.data(), git_object_id(o)->id, 20);
		start = id;
	}
	return walk_suffix(s, *start, suffix, ref, a.repo);
}

} // namespace pach
