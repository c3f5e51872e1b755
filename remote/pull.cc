// pach pull: fetch, then fast-forward local branches, create snapshots the
// remote has, and merge the metadata (repos, pipelines, job records)
// three-way, so both sides' repos and jobs are kept.
#include "remote/sync.h"
#include "plumbing/crash.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/meta.h"
#include "remote/remotes.h"
#include "remote/walk.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

namespace pach::remote {

using OidSet = std::unordered_set<Oid, OidHash>;

namespace {

std::optional<Oid> merge_base(const Store &s, const Oid &a, const Oid &b)
{
	OidSet anc;
	walk_commits(s, {a}, [&](const Oid &c) { return anc.insert(c), true; });
	std::optional<Oid> base;
	walk_commits(s, {b}, [&](const Oid &c) {
		if (anc.count(c))
			base = c;
		return !base;
	});
	return base;
}

// Three-way merge of metadata trees: a side that changed an entry wins;
// both changed: directories merge, files keep ours (reported).
std::optional<Oid> merge_trees(const Store &s, ObjectWriter &w, const std::optional<Oid> &base,
			       const std::optional<Oid> &ours, const std::optional<Oid> &theirs, const std::string &path,
			       std::vector<std::string> &conflicts)
{
	// The metadata is a few levels deep (jobs/<pipeline>/<id>/...): a
	// remote's deeper tree is refused, never recursed into without end.
	if (std::count(path.begin(), path.end(), '/') > 64)
		die("the remote's metadata is nested too deeply at '{}'; nothing was merged", path);
	if (ours == theirs)
		return ours;
	if (base == ours)
		return theirs;
	if (base == theirs)
		return ours;
	auto entries = [&](const std::optional<Oid> &t) {
		std::map<std::string, TreeEntry> m;
		if (t)
			for (auto &e : s.read_tree(*t))
				m[e.name] = e;
		return m;
	};
	auto B = entries(base), O = entries(ours), T = entries(theirs);
	std::set<std::string> names;
	for (auto *m : {&B, &O, &T})
		for (auto &[n, e] : *m)
			names.insert(n);
	std::vector<TreeEntry> out;
	for (auto &n : names) {
		auto get = [&](std::map<std::string, TreeEntry> &m) {
			auto it = m.find(n);
			return it == m.end() ? std::optional<TreeEntry>() : std::optional<TreeEntry>(it->second);
		};
		auto b = get(B), o = get(O), t = get(T);
		auto same = [](const std::optional<TreeEntry> &x, const std::optional<TreeEntry> &y) {
			return (!x && !y) || (x && y && x->oid == y->oid && x->mode == y->mode);
		};
		std::optional<TreeEntry> r;
		if (same(o, t) || same(b, t))
			r = o;
		else if (same(b, o))
			r = t;
		else if (o && t && o->is_dir() && t->is_dir()) {
			auto m = merge_trees(s, w, b && b->is_dir() ? std::optional<Oid>(b->oid) : std::nullopt, o->oid, t->oid,
					     path + "/" + n, conflicts);
			if (m)
				r = TreeEntry{n, kModeDir, *m};
		} else {
			r = o ? o : t;
			conflicts.push_back(path + "/" + n);
		}
		if (r)
			out.push_back(*r);
	}
	if (out.empty())
		return std::nullopt;
	sort_tree(out);
	return w.tree(out);
}

} // namespace

std::vector<RefUpdate> pull(Store &s, const RemoteConfig &rc, const PullOptions &o, TransferStats &stats)
{
	fetch(s, rc, stats);
	crash_point("pull-fetched");
	std::string prefix = "refs/pach/remotes/" + rc.name + "/";
	std::vector<std::pair<std::string, Oid>> theirs;   // local ref -> remote commit
	for (auto &[t, oid] : s.refs(prefix + "heads/")) {
		std::string ref = "refs/" + t.substr(prefix.size());
		if (!o.what.empty()) {
			std::string label = ref_label(ref);
			bool want = false;
			for (auto &w : o.what)
				want = want || w == label || (w.find('@') == std::string::npos && label.compare(0, w.size() + 1, w + "@") == 0);
			if (!want)
				continue;
		}
		theirs.push_back({ref, oid});
	}
	if (!o.what.empty())
		for (auto &w : o.what) {
			bool found = false;
			for (auto &[ref, oid] : theirs)
				found = found || ref_label(ref) == w || ref_label(ref).compare(0, w.size() + 1, w + "@") == 0;
			if (!found)
				die("remote '{}' has no branch '{}'", rc.name, w);
		}
	std::vector<RefUpdate> out;
	auto lock = s.lock_shared();
	for (auto &[ref, r] : theirs) {
		RefUpdate u;
		u.ref = ref;
		u.old_oid = s.ref(ref);
		u.new_oid = r;
		if (!u.old_oid) {
			u.status = "created";
		} else if (*u.old_oid == r || is_ancestor(s, r, *u.old_oid)) {
			u.status = "up-to-date";
		} else if (is_ancestor(s, *u.old_oid, r)) {
			u.status = "updated";
		} else if (o.force) {
			u.status = "forced";
		} else {
			u.status = "rejected";
			u.reason = "diverged";
		}
		if (u.status == "created" || u.status == "updated" || u.status == "forced")
			if (!s.cas_ref(ref, r, u.old_oid, "pach pull " + rc.name))
				die("branch '{}' moved during the pull; pull again", ref_label(ref));
		out.push_back(u);
	}
	// Snapshots the remote has and we do not: ours to use (rollback --to).
	// One of the same name with other content is left alone, and said.
	for (auto &[t, oid] : s.refs(prefix + "pach/snapshots/")) {
		std::string ref = "refs/" + t.substr(prefix.size());
		auto mine = s.ref(ref);
		if (!mine) {
			s.cas_ref(ref, oid, std::nullopt, "pach pull " + rc.name);
			RefUpdate u;
			u.ref = ref;
			u.new_oid = oid;
			u.status = "created";
			out.push_back(u);
		} else if (*mine != oid) {
			warning("snapshot '" + ref.substr(20) + "' differs from the remote's; keeping ours");
		}
	}
	// The metadata (repos, pipelines, jobs) merges: both sides' repos and
	// jobs are kept.
	if (auto r = s.ref(prefix + "pach/meta")) {
		RefUpdate u;
		u.ref = kMetaRef;
		auto mine = s.ref(kMetaRef);
		u.old_oid = mine;
		if (!mine) {
			s.cas_ref(kMetaRef, *r, std::nullopt, "pach pull " + rc.name);
			u.new_oid = r;
			u.status = "created";
		} else if (*mine == *r || is_ancestor(s, *r, *mine)) {
			u.new_oid = mine;
			u.status = "up-to-date";
		} else if (is_ancestor(s, *mine, *r)) {
			if (!s.cas_ref(kMetaRef, *r, mine, "pach pull " + rc.name))
				die("the metadata moved during the pull; pull again");
			u.new_oid = r;
			u.status = "updated";
		} else {
			ObjectWriter w(s);
			auto base = merge_base(s, *mine, *r);
			std::vector<std::string> conflicts;
			auto t = merge_trees(s, w, base ? std::optional<Oid>(s.read_commit(*base).tree) : std::nullopt,
					     s.read_commit(*mine).tree, s.read_commit(*r).tree, "", conflicts);
			Oid c = w.commit(t ? *t : w.tree({}), {*mine, *r}, s.committer(), s.committer(),
					 "pach pull " + rc.name + ": merge metadata\n");
			w.finish();
			if (!s.cas_ref(kMetaRef, c, mine, "pach pull " + rc.name))
				die("the metadata moved during the pull; pull again");
			for (auto &p : conflicts)
				warning("metadata '" + p.substr(1) + "' changed on both sides; kept the local one");
			u.new_oid = c;
			u.status = "merged";
		}
		out.push_back(u);
	}
	return out;
}

CloneResult clone(const RemoteConfig &rc, const std::string &dir_in)
{
	std::string bad = check_url(rc.url);
	if (!bad.empty())
		die("{}", bad);
	CloneResult res;
	res.dir = dir_in;
	if (res.dir.empty()) {
		std::string u = rc.url;
		while (!u.empty() && u.back() == '/')
			u.pop_back();
		res.dir = u.substr(u.find_last_of("/:") + 1);
		if (res.dir.empty())
			die("cannot guess a directory name from '{}': name one", rc.url);
	}
	const std::string &dir = res.dir;
	bool created = false;
	struct stat st;
	if (::stat(dir.c_str(), &st) == 0) {
		if (!S_ISDIR(st.st_mode) || !dir_names(dir).empty())
			die("destination '{}' already exists and is not an empty directory", dir);
	} else {
		created = true;
	}
	std::string gd;
	try {
		gd = Store::init(dir);
		Store s(gd);
		remote_add(s, rc);
		PullOptions o;
		o.force = true;
		auto ups = pull(s, rc, o, res.stats);
		if (!s.ref(kMetaRef))
			die("'{}' holds no pach data", rc.url);
		for (auto &u : ups) {
			res.branches += u.ref.compare(0, 11, "refs/heads/") == 0;
			res.snapshots += u.ref.compare(0, 20, "refs/pach/snapshots/") == 0;
		}
	} catch (...) {
		// Leave nothing half-made behind, as git clone.
		if (created)
			remove_tree(dir);
		else if (!gd.empty())
			remove_tree(gd);
		throw;
	}
	return res;
}

} // namespace pach::remote
