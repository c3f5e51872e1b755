#include "runner/datum.h"
#include "plumbing/tree_edit.h"

#include "plumbing/address.h"
#include "plumbing/error.h"
#include "plumbing/glob.h"

#include <algorithm>
#include <functional>
#include <set>
#include <tuple>

namespace pach::runner {

static std::string commit_key(const std::string &repo, const std::string &branch)
{
	return repo + "@" + branch;
}

InputCommits resolve_inputs(const Store &s, const PipelineSpec &spec)
{
	InputCommits out;
	std::function<void(const Input &)> rec = [&](const Input &in) {
		if (in.kind == Input::pfs)
			out[commit_key(in.pfs_in.repo, in.pfs_in.branch)] = s.ref(branch_ref(in.pfs_in.repo, in.pfs_in.branch));
		else if (in.kind == Input::cron)
			out[commit_key(in.cron_in.repo, "master")] = s.ref(branch_ref(in.cron_in.repo, "master"));
		for (auto &ch : in.children)
			rec(ch);
	};
	rec(spec.input);
	return out;
}

std::string Datum::id() const
{
	Sha1 h;
	for (auto &f : files) {
		std::string part = f.input + '\0' + f.repo + '\0' + f.branch + '\0' + f.path + '\n';
		h.update(part.data(), part.size());
	}
	return h.final().hex();
}

std::string Datum::hash(const std::string &salt) const
{
	return hash(id(), salt);
}

std::string Datum::hash(const std::string &i, const std::string &salt) const
{
	Sha1 h;
	h.update(i.data(), i.size());
	for (auto &f : files) {
		h.update(f.entry.oid.b.data(), 20);
		uint32_t m = f.entry.mode;
		h.update(&m, sizeof m);
		if (f.empty_files)
			h.update("E", 1); // the code sees other files
	}
	h.update(salt.data(), salt.size());
	return h.final().hex();
}

// Every path of the commit's tree the glob matches, handed to fn with its
// capture groups as the walk finds it (nothing is gathered here: a glob
// can match millions of files).
using OnMatch = std::function<void(DatumFile &&, const std::vector<std::string> &groups)>;
static void pfs_matches(const Store &s, const std::string &input, const std::string &repo, const std::string &branch,
			const std::string &pattern, const std::optional<Oid> &commit, const OnMatch &fn)
{
	if (!commit)
		return;
	Glob g(pattern);
	Oid root = s.read_commit(*commit).tree;
	auto add = [&](const std::string &path, const TreeEntry &e, const std::vector<std::string> &groups) {
		fn(DatumFile{input, repo, branch, commit, path, TreeEntry{"", e.mode, e.oid}, "", ""}, groups);
	};
	std::vector<std::string> groups;
	// An empty repo has no datums, not even for "/".
	if (g.match("/", &groups) && !s.read_tree(root).empty())
		add("/", TreeEntry{"", kModeDir, root}, groups);
	int maxd = g.max_depth();
	walk_tree(s, root, [&](const std::string &rel, const TreeEntry &e) {
		std::string p = "/" + rel;
		if (g.match(p, &groups))
			add(p, e, groups);
		return maxd < 0 || (int)std::count(rel.begin(), rel.end(), '/') + 1 < maxd;
	});
}

static void sort_files(Datum &d)
{
	std::sort(d.files.begin(), d.files.end(),
		  [](auto &a, auto &b) { return std::tie(a.input, a.path) < std::tie(b.input, b.path); });
}

static std::vector<Datum> cross(const std::vector<std::vector<Datum>> &parts)
{
	std::vector<Datum> acc{Datum{}};
	for (auto &p : parts) {
		if (p.empty())
			return {};
		std::vector<Datum> next;
		next.reserve(acc.size() * p.size());
		for (auto &a : acc)
			for (auto &b : p) {
				Datum d = a;
				d.files.insert(d.files.end(), b.files.begin(), b.files.end());
				next.push_back(std::move(d));
			}
		acc = std::move(next);
	}
	for (auto &d : acc)
		sort_files(d);
	return acc;
}

// Datums of a pfs or cron input, one per match, as the walk finds them.
static void pfs_datums(const Store &s, const Input &in, const InputCommits &commits, const OnDatum &fn)
{
	auto commit_of = [&](const std::string &repo, const std::string &branch) -> std::optional<Oid> {
		auto it = commits.find(commit_key(repo, branch));
		return it == commits.end() ? std::nullopt : it->second;
	};
	if (in.kind == Input::cron) {
		pfs_matches(s, in.cron_in.name, in.cron_in.repo, "master", "/*", commit_of(in.cron_in.repo, "master"),
			    [&](DatumFile &&f, const std::vector<std::string> &) {
				    Datum d;
				    d.files.push_back(std::move(f));
				    fn(std::move(d));
			    });
		return;
	}
	// Each file carries its own keys, so a join or group above it,
	// however deep, keys it by its own input's join_on / group_by.
	const PfsInput &p = in.pfs_in;
	pfs_matches(s, p.name, p.repo, p.branch, p.glob, commit_of(p.repo, p.branch),
		    [&](DatumFile &&f, const std::vector<std::string> &groups) {
			    f.empty_files = p.empty_files;
			    f.lazy = p.lazy;
			    f.outer_join = p.outer_join;
			    f.has_join_on = !p.join_on.empty();
			    f.has_group_by = !p.group_by.empty();
			    if (f.has_join_on)
				    f.join_key = Glob::expand(p.join_on, groups);
			    if (f.has_group_by)
				    f.group_key = Glob::expand(p.group_by, groups);
			    Datum d;
			    d.files.push_back(std::move(f));
			    fn(std::move(d));
		    });
}

// The cross product, the first input outermost: it streams, the others
// are held (a cross is as big as their product anyway).  An odometer over
// the held inputs, not recursion.
static void cross_datums(const Store &s, const Input &in, const InputCommits &commits, const OnDatum &fn)
{
	if (in.children.empty())
		return;
	std::vector<std::vector<Datum>> rest;
	for (size_t i = 1; i < in.children.size(); i++) {
		rest.push_back(compute_datums(s, in.children[i], commits));
		if (rest.back().empty())
			return;
	}
	std::vector<size_t> at(rest.size());
	for_each_datum(s, in.children[0], commits, [&](Datum &&a) {
		std::fill(at.begin(), at.end(), 0);
		for (;;) {
			Datum d = a;
			for (size_t j = 0; j < rest.size(); j++)
				d.files.insert(d.files.end(), rest[j][at[j]].files.begin(), rest[j][at[j]].files.end());
			sort_files(d);
			fn(std::move(d));
			size_t j = rest.size();
			while (j > 0 && ++at[j - 1] == rest[j - 1].size())
				at[--j] = 0;
			if (j == 0)
				break;
		}
	});
}

// As Pachyderm's key tasks do: every file of every child datum is keyed
// by its own input's join_on (group_by), so a group over a join or a
// cross splits the child's datums into their files.  A file reached
// through several child datums counts once.  The files are held, by key:
// nothing can be emitted before every input has been read.
static void key_datums(const Store &s, const Input &in, const InputCommits &commits, const OnDatum &fn)
{
	bool join = in.kind == Input::join;
	std::map<std::string, std::vector<std::vector<DatumFile>>> by_key;   // key -> per child, its files
	std::set<std::tuple<std::string, size_t, std::string, std::string>> seen;
	for (size_t i = 0; i < in.children.size(); i++)
		for_each_datum(s, in.children[i], commits, [&](Datum &&d) {
			for (auto &f : d.files) {
				const std::string &key = join ? f.join_key : f.group_key;
				if (!seen.insert({key, i, f.input, f.path}).second)
					continue;
				auto &slot = by_key[key];
				slot.resize(in.children.size());
				slot[i].push_back(std::move(f));
			}
		});
	for (auto &[key, per_input] : by_key) {
		if (!join) {
			// group: one datum per key, whatever holds it
			Datum d;
			for (auto &files : per_input)
				d.files.insert(d.files.end(), files.begin(), files.end());
			sort_files(d);
			fn(std::move(d));
			continue;
		}
		// join: one file of each child per datum; a key some child
		// lacks gives the combinations of its outer_join files only.
		bool all = std::all_of(per_input.begin(), per_input.end(), [](auto &v) { return !v.empty(); });
		std::vector<std::vector<Datum>> parts;
		for (auto &files : per_input) {
			std::vector<Datum> p;
			for (auto &f : files)
				if (all || f.outer_join)
					p.push_back(Datum{{f}});
			if (!p.empty())
				parts.push_back(std::move(p));
		}
		if (parts.empty())
			continue;
		for (auto &d : cross(parts))
			fn(std::move(d));
		per_input.clear();
	}
}

void for_each_datum(const Store &s, const Input &in, const InputCommits &commits, const OnDatum &fn)
{
	switch (in.kind) {
	case Input::pfs:
	case Input::cron:
		pfs_datums(s, in, commits, fn);
		return;
	case Input::union_:
		for (auto &ch : in.children)
			for_each_datum(s, ch, commits, fn);
		return;
	case Input::cross:
		cross_datums(s, in, commits, fn);
		return;
	case Input::join:
	case Input::group:
		key_datums(s, in, commits, fn);
		return;
	}
}

std::vector<Datum> compute_datums(const Store &s, const Input &in, const InputCommits &commits)
{
	std::vector<Datum> out;
	for_each_datum(s, in, commits, [&](Datum &&d) { out.push_back(std::move(d)); });
	return out;
}

} // namespace pach::runner
