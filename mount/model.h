// The model behind pach mount: a path resolves to a Node (a tree entry
// of a branch or commit, or a file staged in the writable overlay); trees
// are read once and indexed by name; branches are looked up again after a
// second; open files read stored data straight from the pack, with a
// prefetch thread for sequential reads.  Used only by mount/mount.cc (the
// FUSE callbacks); everything is inline, in pach::mount::detail.
#pragma once

#include "plumbing/address.h"
#include "plumbing/checkout.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/tree_edit.h"
#include "mount/mount.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

namespace pach::mount::detail {

// A tree as read once: its entries and an index by name.
struct Entries {
	std::vector<TreeEntry> v;
	std::unordered_map<std::string, size_t> by_name;
	const TreeEntry *find(const std::string &n) const
	{
		auto it = by_name.find(n);
		return it == by_name.end() ? nullptr : &v[it->second];
	}
};

struct Node {
	enum Kind { k_root, k_repo, k_prefix, k_entry } kind = k_root;
	std::string repo, branch_prefix;
	TreeEntry e;            // for entry: what it is (the commit's root tree for a branch or @commit dir)
	int64_t mtime = 0;
	bool fixed = false;     // under @commit: never changes
	// Writable mounts, under a branch: where it is, and its staged copy.
	std::string branch, rel;    // rel: "a/b" inside the branch ("" = its root)
	std::string upper;          // the staged file or directory, if any
	bool lower = false;         // e is what the branch's commit has there
};

struct Handle {
	Fd fd;                // a staged file (writable mounts)
	Oid oid;
	uint64_t ahead = 0;   // where the next read-ahead hint is due
	uint64_t hinted = 0;  // content hinted up to here
	std::unique_ptr<ObjectReader> r;
	std::mutex mu;
	// Sequential reads of stored data: a thread reads the pack ahead of
	// the reader in 1 MiB pieces, as cat would, so the kernel's requests
	// find the pages in memory instead of waiting for the disk each time.
	std::thread prefetch;
	std::atomic<uint64_t> want{0}, done{0};
	std::atomic<bool> stop{false};
	std::condition_variable cv;
	~Handle()
	{
		stop = true;
		cv.notify_all();
		if (prefetch.joinable())
			prefetch.join();
	}
	void start_prefetch()
	{
		prefetch = std::thread([this] {
			std::vector<char> buf(1 << 20);
			std::unique_lock<std::mutex> g(mu);
			while (!stop) {
				if (done >= want || done >= r->size()) {
					cv.wait_for(g, std::chrono::milliseconds(100));
					continue;
				}
				std::vector<std::pair<uint64_t, size_t>> ranges;
				int fd = -1;
				uint64_t from = done;
				if (!r->file_ranges(from, buf.size(), ranges, &fd))
					return;
				g.unlock();
				uint64_t n = 0;
				for (auto &[at, len] : ranges) {
					if (pread(fd, buf.data(), len, (off_t)at) <= 0)
						break;
					n += len;
				}
				g.lock();
				if (!n)
					return;
				done = from + n;
			}
		});
	}
};

class Fs {
public:
	Fs(Store &s, const Options &o) : s_(s)
	{
		for (auto &w : o.only) {
			auto at = w.find('@');
			only_[w.substr(0, at)].push_back(at == std::string::npos ? "" : w.substr(at + 1));
		}
		mounted_ = time(nullptr);
	}

	int resolve(const char *path, Node &n)
	{
		std::vector<std::string> parts;
		for (const char *p = path; *p;) {
			while (*p == '/')
				p++;
			const char *e = p;
			while (*e && *e != '/')
				e++;
			if (e > p)
				parts.emplace_back(p, e);
			p = e;
		}
		n = Node{};
		n.mtime = mounted_;
		if (parts.empty())
			return 0;
		n.repo = parts[0];
		if (!repo_visible(n.repo))
			return -ENOENT;
		auto bset = branch_names(n.repo);
		const std::set<std::string> &branches = *bset;
		if (parts.size() == 1) {
			if (branches.empty() && !repo_exists(n.repo))
				return -ENOENT;
			n.kind = Node::k_repo;
			return 0;
		}
		// @commit, or a branch (whose name may hold slashes).
		std::optional<Oid> commit;
		size_t used = 0;
		if (parts[1][0] == '@') {
			std::string hex = parts[1].substr(1);
			if (hex.size() < 4 || hex.find_first_not_of("0123456789abcdef") != std::string::npos || !branch_allowed(n.repo, parts[1]))
				return -ENOENT;
			try {
				Oid c = s_.resolve_commitish(hex);
				if (s_.object_type(c) != ObjType::commit)
					return -ENOENT;
				commit = c;
			} catch (const Error &) {
				return -ENOENT;
			}
			n.fixed = true;
			used = 2;
		} else {
			std::string name;
			for (size_t k = 1; k < parts.size(); k++) {
				name += (k > 1 ? "/" : "") + parts[k];
				if (branches.count(name)) {
					if (!branch_allowed(n.repo, name))
						return -ENOENT;
					commit = s_.ref(branch_ref(n.repo, name));
					n.branch = name;
					used = k + 1;
					break;
				}
			}
			if (!commit) {
				// A directory of branch names ("feature/" of feature/x)?
				auto it = branches.lower_bound(name + "/");
				if (it != branches.end() && it->compare(0, name.size() + 1, name + "/") == 0 && used == 0) {
					n.kind = Node::k_prefix;
					n.branch_prefix = name;
					return 0;
				}
				return -ENOENT;
			}
		}
		if (!commit)
			return -ENOENT;
		CommitInfo ci = commit_info(*commit);
		n.mtime = ci.committer.when;
		n.kind = Node::k_entry;
		n.e = TreeEntry{"", kModeDir, ci.tree};
		if (writable_ && !n.fixed)
			return merged(n, parts, used);
		for (size_t k = used; k < parts.size(); k++) {
			if (!n.e.is_dir())
				return -ENOTDIR;
			auto t = tree(n.e.oid);
			const TreeEntry *x = t->find(parts[k]);
			if (!x)
				return -ENOENT;
			n.e = *x;
		}
		return 0;
	}

	// Writable mounts: the staged copy of a branch is an overlay, as
	// overlayfs and OCI layers do it: files and directories written here,
	// ".wh.NAME" for a deleted NAME, ".wh..wh..opq" in a directory that
	// hides what the commit has below it.
	std::string upper_root(const std::string &repo, const std::string &branch) const
	{
		std::string b;
		for (char c : branch)
			b += c == '/' ? std::string("%2F") : c == '%' ? std::string("%25") : std::string(1, c);
		return stage_ + "/upper/" + repo + "/" + b;
	}

	int merged(Node &n, const std::vector<std::string> &parts, size_t used)
	{
		std::string up = upper_root(n.repo, n.branch);
		bool lower_ok = true;
		bool have_upper = is_dir(up);
		n.upper = have_upper ? up : "";
		n.lower = true;
		std::string rel;
		for (size_t k = used; k < parts.size(); k++) {
			std::string parent = up + (rel.empty() ? "" : "/" + rel);
			const std::string &name = parts[k];
			rel += (rel.empty() ? "" : "/") + name;
			struct stat st;
			if (lower_ok && have_upper && (::lstat((parent + "/.wh." + name).c_str(), &st) == 0 ||
						       ::lstat((parent + "/.wh..wh..opq").c_str(), &st) == 0))
				lower_ok = false;
			if (lower_ok) {
				if (!n.e.is_dir()) {
					lower_ok = false;
				} else {
					const TreeEntry *x = tree(n.e.oid)->find(name);
					if (x)
						n.e = *x;
					else
						lower_ok = false;
				}
			}
			bool in_upper = have_upper && ::lstat((up + "/" + rel).c_str(), &st) == 0;
			if (in_upper && !S_ISDIR(st.st_mode) && k + 1 < parts.size())
				return -ENOTDIR;
			if (!in_upper && !lower_ok)
				return -ENOENT;
			if (!in_upper)
				have_upper = false;   // nothing staged below either
			n.upper = in_upper ? up + "/" + rel : "";
		}
		n.rel = rel;
		n.lower = lower_ok;
		return 0;
	}

	// The staged directory for a directory node, made on first use.
	std::string upper_dir(const Node &n)
	{
		std::string d = upper_root(n.repo, n.branch) + (n.rel.empty() ? "" : "/" + n.rel);
		mkdir_p(d);
		return d;
	}

	// Make the staged copy of what n names (a file, link or directory).
	int copy_up(Node &n)
	{
		if (!n.upper.empty())
			return 0;
		if (n.rel.empty())
			return -EISDIR;
		std::string parent_rel = n.rel.find('/') == std::string::npos ? "" : n.rel.substr(0, n.rel.rfind('/'));
		std::string dir = upper_root(n.repo, n.branch) + (parent_rel.empty() ? "" : "/" + parent_rel);
		mkdir_p(dir);
		std::string up = upper_root(n.repo, n.branch) + "/" + n.rel;
		if (n.e.is_dir()) {
			if (::mkdir(up.c_str(), 0755) < 0 && errno != EEXIST)
				return -errno;
		} else {
			checkout(s_, n.e, up);
		}
		n.upper = up;
		return 0;
	}

	void whiteout(const Node &n)
	{
		std::string rel = n.rel, name = rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
		std::string parent_rel = rel.size() > name.size() ? rel.substr(0, rel.size() - name.size() - 1) : "";
		std::string dir = upper_root(n.repo, n.branch) + (parent_rel.empty() ? "" : "/" + parent_rel);
		mkdir_p(dir);
		Fd(::open((dir + "/.wh." + name).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	}

	int remove_entry(const Node &n, bool dir)
	{
		if (!n.upper.empty()) {
			std::error_code ec;
			if (dir)
				std::filesystem::remove_all(n.upper, ec);
			else if (::unlink(n.upper.c_str()) < 0)
				return -errno;
		}
		if (n.lower)
			whiteout(n);
		return 0;
	}

	// A writable branch directory's names: the commit's, less what was
	// deleted, plus what was staged.
	std::set<std::string> merged_names(const Node &n)
	{
		std::set<std::string> out;
		std::set<std::string> gone;
		bool opaque = false;
		if (!n.upper.empty()) {
			struct stat st;
			opaque = !n.rel.empty() && ::lstat((n.upper + "/.wh..wh..opq").c_str(), &st) == 0;
			std::error_code ec;
			for (auto &d : std::filesystem::directory_iterator(n.upper, ec)) {
				std::string name = d.path().filename().string();
				if (name.compare(0, 4, ".wh.") == 0) {
					if (name != ".wh..wh..opq")
						gone.insert(name.substr(4));
				} else {
					out.insert(name);
				}
			}
		}
		if (n.lower && n.e.is_dir() && !opaque)
			for (auto &e : tree(n.e.oid)->v)
				if (!gone.count(e.name))
					out.insert(e.name);
		return out;
	}

	bool writable() const { return writable_; }
	void set_stage(const std::string &dir, bool w)
	{
		stage_ = dir;
		writable_ = w;
	}

	std::shared_ptr<const Entries> tree(const Oid &o)
	{
		{
			std::lock_guard<std::mutex> g(mu_);
			auto it = trees_.find(o);
			if (it != trees_.end())
				return it->second;
		}
		auto e = std::make_shared<Entries>();
		e->v = s_.read_tree(o);
		e->by_name.reserve(e->v.size());
		for (size_t i = 0; i < e->v.size(); i++)
			e->by_name.emplace(e->v[i].name, i);
		std::shared_ptr<const Entries> t = e;
		std::lock_guard<std::mutex> g(mu_);
		if (trees_.size() > 50000)
			trees_.clear();
		trees_[o] = t;
		return t;
	}

	uint64_t blob_size(const Oid &o)
	{
		{
			std::lock_guard<std::mutex> g(mu_);
			auto it = sizes_.find(o);
			if (it != sizes_.end())
				return it->second;
		}
		auto r = s_.odb().open(o);
		uint64_t n = r ? r->size() : 0;
		std::lock_guard<std::mutex> g(mu_);
		sizes_[o] = n;
		return n;
	}

	std::string link_target(const Oid &o) { return s_.odb().read_small(o); }

	// Branch names of a repo, looked up at most once a second.
	std::shared_ptr<const std::set<std::string>> branch_names(const std::string &repo)
	{
		auto now = std::chrono::steady_clock::now();
		std::lock_guard<std::mutex> g(mu_);
		auto &c = branches_[repo];
		if (!c.second || now - c.first > std::chrono::seconds(1)) {
			auto names = std::make_shared<std::set<std::string>>();
			std::string pre = "refs/heads/" + repo + "/";
			for (auto &[ref, oid] : s_.refs(pre))
				names->insert(ref.substr(pre.size()));
			c.second = names;
			c.first = now;
		}
		return c.second;
	}

	std::vector<std::string> repos()
	{
		std::set<std::string> out;
		for (auto &[ref, oid] : s_.refs("refs/heads/")) {
			std::string rest = ref.substr(11);
			out.insert(rest.substr(0, rest.find('/')));
		}
		if (auto m = s_.ref("refs/pach/meta"))
			if (auto e = lookup_path(s_, s_.read_commit(*m).tree, {"repos"}); e && e->is_dir())
				for (auto &r : s_.read_tree(e->oid))
					out.insert(r.name);
		std::vector<std::string> v;
		for (auto &r : out)
			if (repo_visible(r))
				v.push_back(r);
		return v;
	}

	bool branch_allowed(const std::string &repo, const std::string &name)
	{
		auto it = only_.find(repo);
		if (only_.empty() || it == only_.end())
			return true;
		for (auto &b : it->second)
			if (b.empty() || b == name)
				return true;
		return false;
	}

	Store &store() { return s_; }

	bool same_as_last_open(const std::string &path, const Oid &oid)
	{
		std::lock_guard<std::mutex> g(mu_);
		auto [it, fresh] = last_open_.emplace(path, oid);
		bool same = !fresh && it->second == oid;
		it->second = oid;
		return same;
	}

private:
	bool repo_visible(const std::string &r) { return only_.empty() || only_.count(r); }
	bool repo_exists(const std::string &r)
	{
		auto all = repos();
		return std::find(all.begin(), all.end(), r) != all.end();
	}
	CommitInfo commit_info(const Oid &c)
	{
		{
			std::lock_guard<std::mutex> g(mu_);
			auto it = commits_.find(c);
			if (it != commits_.end())
				return it->second;
		}
		CommitInfo ci = s_.read_commit(c);
		std::lock_guard<std::mutex> g(mu_);
		commits_[c] = ci;
		return ci;
	}

	Store &s_;
	std::map<std::string, std::vector<std::string>> only_;
	int64_t mounted_;
	std::mutex mu_;
	std::unordered_map<Oid, std::shared_ptr<const Entries>, OidHash> trees_;
	std::unordered_map<Oid, uint64_t, OidHash> sizes_;
	std::unordered_map<Oid, CommitInfo, OidHash> commits_;
	std::unordered_map<std::string, Oid> last_open_;
	std::string stage_;
	bool writable_ = false;
	std::map<std::string, std::pair<std::chrono::steady_clock::time_point, std::shared_ptr<const std::set<std::string>>>>
		branches_;
};

} // namespace pach::mount::detail
