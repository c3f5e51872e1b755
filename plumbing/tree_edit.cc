#include "plumbing/tree_edit.h"

#include "plumbing/error.h"

#include <algorithm>

namespace pach {

template <class Src>
static std::optional<TreeEntry> lookup_in(const Src &s, const Oid &root, const std::vector<std::string> &path)
{
	TreeEntry cur{"", kModeDir, root};
	for (auto &c : path) {
		if (!cur.is_dir())
			return std::nullopt;
		auto entries = s.read_tree(cur.oid);
		auto it = std::find_if(entries.begin(), entries.end(), [&](auto &e) { return e.name == c; });
		if (it == entries.end())
			return std::nullopt;
		cur = *it;
	}
	return cur;
}

std::optional<TreeEntry> lookup_path(const Store &s, const Oid &root, const std::vector<std::string> &path)
{
	return lookup_in(s, root, path);
}

std::optional<TreeEntry> lookup_path(const ObjectWriter &w, const Oid &root, const std::vector<std::string> &path)
{
	return lookup_in(w, root, path);
}

static std::optional<Oid> edit_rec(Store &s, ObjectWriter &w, const std::optional<Oid> &tree,
				   const std::vector<std::string> &path, size_t depth, const std::optional<TreeEntry> &entry)
{
	std::vector<TreeEntry> entries;
	if (tree)
		entries = w.read_tree(*tree);
	const std::string &name = path[depth];
	auto it = std::find_if(entries.begin(), entries.end(), [&](auto &e) { return e.name == name; });
	std::optional<TreeEntry> repl;
	if (depth + 1 == path.size()) {
		if (entry) {
			repl = *entry;
			repl->name = name;
		}
	} else {
		std::optional<Oid> sub;
		if (it != entries.end() && it->is_dir())
			sub = it->oid;
		auto r = edit_rec(s, w, sub, path, depth + 1, entry);
		if (r)
			repl = TreeEntry{name, kModeDir, *r};
	}
	if (it != entries.end())
		entries.erase(it);
	if (repl)
		entries.push_back(*repl);
	if (entries.empty())
		return std::nullopt;
	sort_tree(entries);
	return w.tree(entries);
}

Oid edit_tree(Store &s, ObjectWriter &w, const std::optional<Oid> &root, const std::vector<std::string> &path,
	      const std::optional<TreeEntry> &entry)
{
	if (path.empty()) {
		if (!entry)
			return w.tree({});
		if (!entry->is_dir())
			die("cannot replace the root directory with a file");
		if (entry->oid == empty_tree_oid())
			return w.tree({});
		return entry->oid;
	}
	std::optional<TreeEntry> e = entry;
	// An empty directory is no entry at all, as in git.
	if (e && e->is_dir() && e->oid == empty_tree_oid())
		e.reset();
	auto r = edit_rec(s, w, root, path, 0, e);
	return r ? *r : w.tree({});
}

// Edits [begin, end) all lie below `tree` (at depth); sorted by path.
// Returns the new tree (nullopt: empty), or sets `conflict`.
static std::optional<Oid> edits_rec(ObjectWriter &w, const std::optional<Oid> &tree, const TreeEdit *begin,
				    const TreeEdit *end, size_t depth, bool &conflict)
{
	std::vector<TreeEntry> entries;
	if (tree)
		entries = w.read_tree(*tree);
	auto find = [&](const std::string &name) {
		return std::find_if(entries.begin(), entries.end(), [&](auto &e) { return e.name == name; });
	};
	for (const TreeEdit *g = begin; g < end && !conflict;) {
		const std::string &name = g->path[depth];
		const TreeEdit *ge = g;
		while (ge < end && ge->path[depth] == name)
			ge++;
		// Leaf removals, then what lies deeper, then leaf additions.
		for (const TreeEdit *e = g; e < ge; e++)
			if (e->path.size() == depth + 1 && e->remove) {
				auto it = find(name);
				if (it == entries.end() || it->oid != e->entry.oid || it->mode != e->entry.mode) {
					conflict = true;
					return std::nullopt;
				}
				entries.erase(it);
			}
		std::vector<TreeEdit> deeper;
		for (const TreeEdit *e = g; e < ge; e++)
			if (e->path.size() > depth + 1)
				deeper.push_back(*e);
		if (!deeper.empty()) {
			auto it = find(name);
			std::optional<Oid> sub;
			if (it != entries.end()) {
				if (!it->is_dir()) {
					conflict = true;
					return std::nullopt;
				}
				sub = it->oid;
				entries.erase(it);
			}
			auto r = edits_rec(w, sub, deeper.data(), deeper.data() + deeper.size(), depth + 1, conflict);
			if (conflict)
				return std::nullopt;
			if (r)
				entries.push_back({name, kModeDir, *r});
		}
		for (const TreeEdit *e = g; e < ge; e++)
			if (e->path.size() == depth + 1 && !e->remove) {
				if (find(name) != entries.end()) {
					conflict = true;
					return std::nullopt;
				}
				TreeEntry x = e->entry;
				x.name = name;
				entries.push_back(x);
			}
		g = ge;
	}
	if (entries.empty())
		return std::nullopt;
	sort_tree(entries);
	return w.tree(entries);
}

std::optional<Oid> apply_edits(ObjectWriter &w, const Oid &root, std::vector<TreeEdit> edits)
{
	for (auto &e : edits)
		if (e.path.empty())
			return std::nullopt;
	std::stable_sort(edits.begin(), edits.end(), [](auto &a, auto &b) { return a.path < b.path; });
	bool conflict = false;
	auto r = edits_rec(w, root, edits.data(), edits.data() + edits.size(), 0, conflict);
	if (conflict)
		return std::nullopt;
	return r ? *r : w.tree({});
}

Oid overlay_tree(Store &s, ObjectWriter &w, const Oid &base, const Oid &over)
{
	if (base == over)
		return base;
	auto b = w.read_tree(base);
	auto o = w.read_tree(over);
	for (auto &oe : o) {
		auto it = std::find_if(b.begin(), b.end(), [&](auto &e) { return e.name == oe.name; });
		if (it == b.end()) {
			b.push_back(oe);
		} else if (it->is_dir() && oe.is_dir()) {
			it->oid = overlay_tree(s, w, it->oid, oe.oid);
		} else {
			*it = oe;
		}
	}
	sort_tree(b);
	return w.tree(b);
}

void walk_tree(const Store &s, const Oid &root, const std::function<bool(const std::string &, const TreeEntry &)> &fn,
	       const std::string &prefix)
{
	// An explicit stack (a tree's depth is data), pre-order as before.
	struct Frame {
		std::vector<TreeEntry> kids;
		size_t next = 0;
		std::string prefix;
	};
	std::vector<Frame> stack;
	stack.push_back({s.read_tree(root), 0, prefix});
	WalkBudget budget("tree " + root.hex());
	budget.take(stack.back().kids.size());
	while (!stack.empty()) {
		Frame &f = stack.back();
		if (f.next == f.kids.size()) {
			stack.pop_back();
			continue;
		}
		const TreeEntry &e = f.kids[f.next++];
		std::string p = f.prefix.empty() ? e.name : f.prefix + "/" + e.name;
		if (fn(p, e) && e.is_dir()) {
			if (stack.size() >= (size_t)kMaxTreeDepth)
				die("'{}' is nested more than {} directories deep", p, kMaxTreeDepth);
			auto kids = s.read_tree(e.oid);
			budget.take(kids.size());
			stack.push_back({std::move(kids), 0, std::move(p)});   // f is invalid now
		}
	}
}

TreeFiles::TreeFiles(const Store &s, const Oid &root) : s_(s), budget_("tree " + root.hex())
{
	stack_.push_back({s.read_tree(root), 0, ""});
	budget_.take(stack_.back().kids.size());
	next();
}

void TreeFiles::next()
{
	have_ = false;
	while (!stack_.empty()) {
		Frame &f = stack_.back();
		if (f.next == f.kids.size()) {
			stack_.pop_back();
			continue;
		}
		const TreeEntry &e = f.kids[f.next++];
		std::string p = f.prefix.empty() ? e.name : f.prefix + "/" + e.name;
		if (!e.is_dir()) {
			cur_.path = std::move(p);
			cur_.entry = e;
			have_ = true;
			return;
		}
		if (stack_.size() >= (size_t)kMaxTreeDepth)
			die("'{}' is nested more than {} directories deep", p, kMaxTreeDepth);
		auto kids = s_.read_tree(e.oid);
		budget_.take(kids.size());
		stack_.push_back({std::move(kids), 0, std::move(p)});   // f is invalid now
	}
}

Oid build_tree(ObjectWriter &w, const std::vector<PathEntry> &sorted)
{
	// The open directories from the root down: their names and entries.
	struct Open {
		std::string name;
		std::vector<TreeEntry> entries;
	};
	std::vector<Open> open(1);
	std::vector<std::string> cur;   // names of open[1..]
	auto close_one = [&] {
		Open d = std::move(open.back());
		open.pop_back();
		cur.pop_back();
		sort_tree(d.entries);
		open.back().entries.push_back({d.name, kModeDir, w.tree(d.entries)});
	};
	for (auto &f : sorted) {
		std::vector<std::string> parts;
		for (size_t i = 0; i <= f.path.size();) {
			size_t j = f.path.find('/', i);
			if (j == std::string::npos)
				j = f.path.size();
			parts.push_back(f.path.substr(i, j - i));
			i = j + 1;
		}
		if (parts.size() > (size_t)kMaxTreeDepth)
			die("'{}' is nested more than {} directories deep", f.path, kMaxTreeDepth);
		size_t common = 0;
		while (common < cur.size() && common + 1 < parts.size() && cur[common] == parts[common])
			common++;
		while (cur.size() > common)
			close_one();
		for (size_t i = common; i + 1 < parts.size(); i++) {
			open.push_back({parts[i], {}});
			cur.push_back(parts[i]);
		}
		TreeEntry e = f.entry;
		e.name = parts.back();
		open.back().entries.push_back(e);
	}
	while (!cur.empty())
		close_one();
	sort_tree(open[0].entries);
	return w.tree(open[0].entries);
}

} // namespace pach
