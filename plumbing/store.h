// The store: a bare git repository at DIR/.pach holding every repo's
// branches as refs/heads/<repo>/<branch> and pach's metadata under
// refs/pach/.  Objects are written by ObjectWriter straight into packs.
#pragma once

#include "plumbing/fs.h"
#include "plumbing/odb.h"
#include "plumbing/pack_writer.h"
#include "plumbing/tree.h"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

// libgit2's handles stay opaque here: only plumbing/*.cc include <git2.h>.
struct git_repository;

namespace pach {

struct Signature {
	std::string name, email;
	int64_t when = 0;
	int tz_minutes = 0;
	std::string format() const;   // "Name <email> 1234567890 +0000"
};

struct CommitInfo {
	Oid id;
	Oid tree;
	std::vector<Oid> parents;
	Signature author, committer;
	std::string message;
};

// A commit message's subject: its first line.
inline std::string first_line(const std::string &message)
{
	return message.substr(0, message.find('\n'));
}

class Store {
public:
	// Create DIR/.pach; dies if a store is already there.
	static std::string init(const std::string &dir);
	// Find the store: explicit dir (-C), else $PACH_DIR, else walk up from
	// the current directory.  Returns the .pach path or dies.
	static std::string discover(const std::string &c_dir);

	explicit Store(const std::string &git_dir);
	~Store();

	ObjectDb &odb() { return *odb_; }
	const ObjectDb &odb() const { return *odb_; }
	const std::string &git_dir() const { return git_dir_; }
	std::string path(const std::string &rel) const { return git_dir_ + "/" + rel; }
	void refresh_objects();

	// Refs.
	std::optional<Oid> ref(const std::string &name) const;
	// Compare-and-swap: set `name` to `to` only if it is `expected` now
	// (nullopt: must not exist).  Returns false if someone else moved it.
	bool cas_ref(const std::string &name, const Oid &to, const std::optional<Oid> &expected,
		     const std::string &msg);
	// With msg, the ref's log is kept and records the deletion (undoable);
	// without, it goes, as in git (tracking refs, temporary refs).
	bool delete_ref(const std::string &name, const std::optional<Oid> &expected, const std::string &msg = "");
	std::vector<std::pair<std::string, Oid>> refs(const std::string &prefix) const;

	// Objects.
	std::vector<TreeEntry> read_tree(const Oid &tree) const;
	CommitInfo read_commit(const Oid &c) const;
	ObjType object_type(const Oid &o) const;   // none if missing
	Oid resolve_commitish(const std::string &spec) const; // via libgit2 revparse

	Signature author() const;
	Signature committer() const;

	// Writers hold the shared lock while they add objects; gc holds it
	// exclusively, so it never deletes what a writer is about to reference.
	std::unique_ptr<FileLock> lock_shared();
	std::unique_ptr<FileLock> lock_exclusive();

	// Remove temp files left by pach processes that died.
	void clean_stale_temp();

private:
	std::string git_dir_;
	// libgit2 is opened on first use: a re-commit of an unchanged tree, or
	// a read of a branch, never needs it (its start-up alone costs ~5 ms).
	// Plumbing reaches it through lg2_repo() (plumbing/git.h).
	friend git_repository *lg2_repo(const Store &s);
	struct Lg2;
	void open_lg2() const;
	mutable std::once_flag lg2_once_;
	mutable std::unique_ptr<Lg2> lg2_;
	void prepare_ref_update();   // reflogs on, our identity in them
	bool ref_update_ready_ = false;
	std::unique_ptr<ObjectDb> odb_;
};

// Writes new objects for one operation into packs, deduplicating against
// the store and against itself.  Thread-safe: each worker passes its own
// slot number.  Nothing is visible to readers until finish().
class ObjectWriter {
public:
	ObjectWriter(Store &s, int workers = 8);
	~ObjectWriter();

	// Objects of at least this size get a pack of their own, hashed while
	// written; smaller ones share the worker's pack.
	static constexpr uint64_t kOwnPack = 32ull << 20;
	static constexpr uint64_t kRotate = 1ull << 30;
	// ... or objects: a pack's entries are held until it is sealed.
	static constexpr uint32_t kRotateObjects = 1u << 20;

	Oid blob_from_fd(int fd, uint64_t size, const std::string &what, int worker = 0,
			 const PackWriter::OnBytes &progress = nullptr);
	// Versions (plumbing/lineage.cc): given the blob a file had before
	// (asked by `what`, the name blob_from_fd is given), a big file's new
	// version goes into a pack with its previous versions, which become
	// git deltas against it.  Nothing is asked of files below kOwnPack.
	using PreviousVersion = std::function<std::optional<Oid>(const std::string &what)>;
	// probe: first check the new version shares enough with the previous
	// (off when the sender already made it a delta of it).
	void set_previous(PreviousVersion f, bool probe = true)
	{
		previous_ = std::move(f);
		probe_ = probe;
	}
	// A blob from a stream (through a pipe, as blob_from_fd reads).
	Oid blob_from_reader(ObjectReader &r, const std::string &what);
	Oid blob(const void *data, size_t n, int worker = 0);
	Oid tree(const std::vector<TreeEntry> &sorted);
	Oid commit(const Oid &tree, const std::vector<Oid> &parents, const Signature &author,
		   const Signature &committer, const std::string &message);
	// stored: set when the object was there already (not written here).
	Oid object(ObjType t, const std::string &body, int worker = 0, bool *stored = nullptr);
	// Trees written here are readable before finish() (tree edits build
	// on their own output); others come from the store.
	std::vector<TreeEntry> read_tree(const Oid &tree) const;

	// Make everything durable (fsync + rename) and visible.
	void finish();
	uint64_t bytes_written() const { return written_; }
	uint64_t objects_written() const { return objects_; }

private:
	bool seen_or_claim(const Oid &o);
	bool known_outside_slots(const Oid &o);
	PackWriter &slot(int w);
	std::optional<Oid> write_version(int fd, uint64_t size, const std::string &what, const Oid &prev,
					 const PackWriter::OnBytes &progress);
	PreviousVersion previous_;
	bool probe_ = true;
	// Packs whose every object a new pack of this writer holds again:
	// removed once that pack is published.
	std::vector<std::string> retired_;
	void retire_packs();

	Store &s_;
	// One pack being written per slot.  Callers normally give each thread
	// its own slot; the mutex makes sharing one (the runner's datums all
	// snapshot into slot 0) safe.
	struct Slot {
		std::unique_ptr<PackWriter> pack;
		LevelGovernor gov;
		std::mutex mu;
	};
	std::vector<Slot> slots_;
	std::vector<std::unique_ptr<PackWriter>> sealed_;   // published by finish()
	std::mutex mu_;
	std::unordered_set<Oid, OidHash> seen_;   // objects of packs of their own
	struct TreeBody {
		std::string body;
		bool spilled = false;
		uint64_t offset = 0, size = 0;
	};
	static constexpr uint64_t kTreeMemory = 16ull << 20;
	std::unordered_map<Oid, TreeBody, OidHash> trees_;
	uint64_t tree_bytes_ = 0, spill_end_ = 0;
	std::unique_ptr<TempFile> spill_;
	uint64_t written_ = 0, objects_ = 0;
};

} // namespace pach
