// ObjectWriter: new objects straight into packs, one per worker thread,
// published together when the operation is done (see store.h).
#include "plumbing/store.h"
#include "plumbing/crash.h"

#include "plumbing/error.h"
#include "plumbing/parallel.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <thread>

namespace pach {

ObjectWriter::ObjectWriter(Store &s, int workers) : s_(s), slots_((size_t)std::max(1, workers)) {}

ObjectWriter::~ObjectWriter() = default;

bool ObjectWriter::seen_or_claim(const Oid &o)
{
	{
		std::lock_guard<std::mutex> g(mu_);
		if (seen_.count(o))
			return true;
	}
	if (s_.odb().contains(o))
		return true;
	std::lock_guard<std::mutex> g(mu_);
	return !seen_.insert(o).second;
}

// Objects of the slot packs are known to their pack only (PackWriter::has):
// the same object written by two workers, or on both sides of a rotation,
// is in two packs, which git allows; a set of every id would grow with
// the operation.
bool ObjectWriter::known_outside_slots(const Oid &o)
{
	{
		std::lock_guard<std::mutex> g(mu_);
		if (seen_.count(o))
			return true;
	}
	return s_.odb().contains(o);
}

PackWriter &ObjectWriter::slot(int w)
{
	auto &sl = slots_.at((size_t)w);
	if (sl.pack && (sl.pack->bytes() >= kRotate || sl.pack->count() >= kRotateObjects)) {
		sl.pack->seal();
		std::lock_guard<std::mutex> g(mu_);
		sealed_.push_back(std::move(sl.pack));
	}
	if (!sl.pack)
		sl.pack = std::make_unique<PackWriter>(s_.odb().pack_dir());
	return *sl.pack;
}

Oid ObjectWriter::blob_from_fd(int fd, uint64_t size, const std::string &what, int worker,
				const PackWriter::OnBytes &progress)
{
	if (size >= kOwnPack && previous_) {
		if (auto prev = previous_(what))
			if (auto o = write_version(fd, size, what, *prev, progress))
				return *o;
	}
	if (size >= kOwnPack) {
		auto own = std::make_unique<PackWriter>(s_.odb().pack_dir(), 1);
		LevelGovernor gov; // a pack of its own: no slot state needed
		Oid o = own->add_blob_stream(fd, size, what, gov, progress);
		if (seen_or_claim(o)) {
			own->abandon();
			return o;
		}
		own->seal();
		crash_point("pack-written");   // a large blob's own pack, under a temp name
		std::lock_guard<std::mutex> g(mu_);
		written_ += own->bytes();
		objects_++;
		sealed_.push_back(std::move(own));
		return o;
	}
	std::lock_guard<std::mutex> slot_lock(slots_.at((size_t)worker).mu);
	PackWriter &p = slot(worker);
	uint64_t before = p.bytes();
	Oid o = p.add_blob_stream(fd, size, what, slots_.at((size_t)worker).gov, progress);
	if (p.has(o, p.count() - 1) || known_outside_slots(o)) {
		p.drop_last();
		return o;
	}
	std::lock_guard<std::mutex> g(mu_);
	written_ += p.bytes() - before;
	objects_++;
	return o;
}

Oid ObjectWriter::blob_from_reader(ObjectReader &r, const std::string &what)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		die_errno("unable to make a pipe");
	Fd rd(p[0]), wr(p[1]);
	std::exception_ptr err;
	std::thread feed([&] {
		try {
			std::vector<char> buf(1 << 20);
			while (size_t n = r.read(buf.data(), buf.size()))
				write_full(wr.get(), buf.data(), n, "a pipe");
		} catch (...) {
			err = std::current_exception();
		}
		wr.close();
	});
	std::optional<Oid> o;
	try {
		o = blob_from_fd(rd.get(), r.size(), what);
	} catch (...) {
		rd.close(); // the feeder sees EPIPE and stops
		feed.join();
		throw;
	}
	feed.join();
	if (err)
		std::rethrow_exception(err);
	return *o;
}

Oid ObjectWriter::object(ObjType t, const std::string &body, int worker, bool *stored)
{
	Oid o = hash_object(t, body.data(), body.size());
	auto &sl = slots_.at((size_t)worker);
	std::lock_guard<std::mutex> slot_lock(sl.mu);
	if (sl.pack && sl.pack->has(o))
		return o;
	if (known_outside_slots(o)) {
		if (stored)
			*stored = true;
		return o;   // no pack started for an object the store has
	}
	PackWriter &p = slot(worker);
	uint64_t before = p.bytes();
	p.add(t, body.data(), body.size(), o, t == ObjType::blob ? &slots_.at((size_t)worker).gov : nullptr);
	std::lock_guard<std::mutex> g(mu_);
	written_ += p.bytes() - before;
	objects_++;
	return o;
}

Oid ObjectWriter::blob(const void *data, size_t n, int worker)
{
	return object(ObjType::blob, std::string(static_cast<const char *>(data), n), worker);
}

Oid ObjectWriter::tree(const std::vector<TreeEntry> &sorted)
{
	std::string body = serialize_tree(sorted);
	bool stored = false;
	Oid o = object(ObjType::tree, body, 0, &stored);
	std::lock_guard<std::mutex> g(mu_);
	// One the store had already is read from there.
	if (stored || trees_.count(o))
		return o;
	// Kept for read_tree; past a budget, in a file beside the packs (a
	// snapshot of ten million files writes gigabytes of trees).
	TreeBody &t = trees_[o];
	if (tree_bytes_ + body.size() <= kTreeMemory) {
		tree_bytes_ += body.size();
		t.body = std::move(body);
		return o;
	}
	if (!spill_)
		spill_ = std::make_unique<TempFile>(s_.odb().pack_dir(), "tmp_trees_");
	t.spilled = true;
	t.offset = spill_end_;
	t.size = body.size();
	write_full(spill_->fd(), body.data(), body.size(), spill_->path());
	spill_end_ += body.size();
	return o;
}

std::vector<TreeEntry> ObjectWriter::read_tree(const Oid &tree) const
{
	std::string body;
	{
		std::lock_guard<std::mutex> g(const_cast<std::mutex &>(mu_));
		auto it = trees_.find(tree);
		if (it != trees_.end()) {
			if (!it->second.spilled)
				return parse_tree(it->second.body, tree.hex());
			body.resize(it->second.size);
			if (pread(spill_->fd(), body.data(), body.size(), (off_t)it->second.offset) != (ssize_t)body.size())
				die_errno("unable to read back '" + spill_->path() + "'");
		}
	}
	if (!body.empty())
		return parse_tree(body, tree.hex());
	return s_.read_tree(tree);
}

Oid ObjectWriter::commit(const Oid &tree, const std::vector<Oid> &parents, const Signature &author,
			 const Signature &committer, const std::string &message)
{
	std::string b = "tree " + tree.hex() + "\n";
	for (auto &p : parents)
		b += "parent " + p.hex() + "\n";
	b += "author " + author.format() + "\n";
	b += "committer " + committer.format() + "\n\n";
	b += message;
	if (message.empty() || message.back() != '\n')
		b += "\n";
	return object(ObjType::commit, b);
}

void ObjectWriter::finish()
{
	// Seal the workers' packs side by side (each rereads and hashes its
	// pack), then publish everything: until here nothing was visible.
	std::vector<PackWriter *> open;
	for (auto &sl : slots_)
		if (sl.pack)
			open.push_back(sl.pack.get());
	parallel_for(open.size(), (int)open.size(), [&](size_t i, int) { open[i]->seal(); });
	crash_point("objects-sealed");   // packs durable under temp names
	for (auto &p : sealed_)
		p->publish();
	for (auto &sl : slots_) {
		if (sl.pack)
			sl.pack->publish();
		sl.pack.reset();
	}
	sealed_.clear();
	if (!retired_.empty())
		crash_point("versions-published");   // old version packs not yet removed
	retire_packs();
	s_.refresh_objects();
	crash_point("objects-published");   // visible, no ref moved yet
}

} // namespace pach
