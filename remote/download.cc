#include "remote/download.h"
#include "plumbing/crash.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/parallel.h"
#include "plumbing/progress.h"
#include "remote/packfile.h"
#include "plumbing/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace pach::remote {

namespace {

// Bytes of a file being downloaded in chunks, possibly out of order:
// how far from the start everything has arrived.
class Watermark {
public:
	Watermark(uint64_t size, uint64_t chunk) : chunk_(chunk), done_((size + chunk - 1) / chunk), size_(size) {}
	void mark(size_t i)
	{
		std::lock_guard<std::mutex> g(mu_);
		done_[i] = true;
		while (first_ < done_.size() && done_[first_])
			first_++;
		cv_.notify_all();
	}
	void fail()
	{
		std::lock_guard<std::mutex> g(mu_);
		failed_ = true;
		cv_.notify_all();
	}
	void wait_for(uint64_t n)
	{
		std::unique_lock<std::mutex> g(mu_);
		cv_.wait(g, [&] { return failed_ || std::min<uint64_t>(first_ * chunk_, size_) >= n; });
		if (failed_)
			throw Error(Exit::fatal, "download failed");
	}
	bool done(size_t i)
	{
		std::lock_guard<std::mutex> g(mu_);
		return done_[i];
	}

private:
	uint64_t chunk_;
	std::vector<char> done_;
	uint64_t size_;
	size_t first_ = 0;
	bool failed_ = false;
	std::mutex mu_;
	std::condition_variable cv_;
};

struct Incoming {
	std::string name, key;
	uint64_t size = 0;
	std::string tmp_pack, tmp_idx, done_log;
	std::unique_ptr<Watermark> wm;
	ThinPack thin;
	bool deferred = false;   // a thin pack whose base comes in an earlier pack
};

// Thin packs (pach-remote-format(5)): their objects made from bases in
// other packs are written by `w` -- a new version next to its previous
// one, as a commit of it would -- the rest copied by install_thin_pack.
void prepare_thin(Store &s, ObjectWriter &w, std::mutex &mu, std::map<std::string, Oid> &bases, Incoming &x,
		  const std::string &what)
{
	x.thin.made.clear();
	x.thin.open_base = [&s](const Oid &o) { return s.odb().open(o); };
	x.thin.write = [&w, &mu, &bases, what](ObjectReader &r, const std::optional<Oid> &base) {
		std::string name;
		{
			std::lock_guard<std::mutex> g(mu);
			name = fmt::format("object {} of {}", bases.size(), what);
			if (base)
				bases[name] = *base;
		}
		return w.blob_from_reader(r, name);
	};
}


// Download packs (ranges in parallel, resuming what a previous fetch
// got) while a thread per pack verifies and indexes what has arrived.
} // namespace

void download_packs(Store &s, Backend &b, const std::vector<IncomingPack> &packs, TransferStats &stats)
{
	const uint64_t chunk = b.tuning.fetch_chunk;
	std::vector<Incoming> in(packs.size());
	for (size_t i = 0; i < packs.size(); i++) {
		in[i].name = packs[i].name;
		in[i].size = packs[i].size;
		in[i].key = packs[i].key.empty() ? "packs/" + packs[i].name + ".pack" : packs[i].key;
	}
	// Partial downloads wait in .pach/pach/fetch (resumed by the next
	// fetch); only verified packs enter objects/pack.
	std::string dir = s.odb().pack_dir();
	std::string work = s.path("pach/fetch");
	mkdir_p(work);
	struct Chunk {
		size_t pack, index;
	};
	std::vector<Chunk> chunks;
	uint64_t total = 0;
	for (size_t p = 0; p < in.size(); p++) {
		auto &x = in[p];
		x.tmp_pack = work + "/" + x.name + ".pack";
		x.tmp_idx = work + "/" + x.name + ".idx";
		x.done_log = work + "/" + x.name + ".done";
		x.wm = std::make_unique<Watermark>(x.size, chunk);
		Fd f(::open(x.tmp_pack.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444));
		if (!f || ftruncate(f.get(), (off_t)x.size) < 0)
			die_errno("unable to create '" + x.tmp_pack + "'");
		// Chunks a previous fetch completed (verified with the rest later).
		std::set<size_t> got;
		{
			Fd l(::open(x.done_log.c_str(), O_RDONLY | O_CLOEXEC));
			char buf[4096];
			std::string text;
			ssize_t n;
			while (l && (n = ::read(l.get(), buf, sizeof buf)) > 0)
				text.append(buf, (size_t)n);
			size_t i = 0;
			while (i < text.size()) {
				size_t e = text.find('\n', i);
				if (e == std::string::npos)
					break;
				got.insert((size_t)atoll(text.c_str() + i));
				i = e + 1;
			}
		}
		size_t n = (size_t)((x.size + chunk - 1) / chunk);
		for (size_t i = 0; i < n; i++) {
			if (got.count(i))
				x.wm->mark(i);
			else
				chunks.push_back({p, i});
		}
		total += x.size;
	}
	Progress prog("Receiving packs", 0, true);
	prog.set_total_bytes(total);
	// Each pack is indexed as its bytes arrive.  Packs are taken in the
	// order their chunks are fetched, by one verifier per core (not one
	// per pack: a remote may hold thousands of small pushes).
	std::vector<std::exception_ptr> verr(in.size());
	std::mutex thin_mu;
	std::map<std::string, Oid> thin_bases;
	auto thin_writer = std::make_unique<ObjectWriter>(s);
	auto previous = [&](const std::string &what) -> std::optional<Oid> {
		std::lock_guard<std::mutex> g(thin_mu);
		auto it = thin_bases.find(what);
		if (it == thin_bases.end())
			return std::nullopt;
		return it->second;
	};
	thin_writer->set_previous(previous, false);
	auto verify = [&](Incoming &x, ObjectWriter &w, const std::function<void(uint64_t)> &wait) {
		std::string what = "pack " + x.name + " from " + b.describe();
		prepare_thin(s, w, thin_mu, thin_bases, x, what);
		Oid sum = index_pack(x.tmp_pack, x.size, x.tmp_idx, what, wait, &x.thin);
		if (sum.hex() != x.name)
			die("pack {} from {} is named for another content ({})", x.name, b.describe(), sum.hex());
	};
	std::thread verifier([&] {
		parallel_for(in.size(), cpu_workers(4), [&](size_t p, int) {
			try {
				auto &x = in[p];
				try {
					verify(x, *thin_writer, [&](uint64_t n) { x.wm->wait_for(n); });
				} catch (const MissingBase &) {
					x.deferred = true; // its base is in a pack before it
				}
			} catch (...) {
				verr[p] = std::current_exception();
			}
		});
	});
	std::mutex log_mu;
	try {
		for (auto &x : in)
			for (size_t i = 0; i < (size_t)((x.size + chunk - 1) / chunk); i++)
				if (x.wm->done(i))
					prog.add(0, std::min(chunk, x.size - i * chunk));
		parallel_for(chunks.size(), b.parallelism(), [&](size_t k, int) {
			auto &c = chunks[k];
			auto &x = in[c.pack];
			Fd f(::open(x.tmp_pack.c_str(), O_WRONLY | O_CLOEXEC));
			if (!f)
				die_errno("unable to open '" + x.tmp_pack + "'");
			uint64_t off = c.index * chunk, len = std::min(chunk, x.size - off);
			b.get_range(x.key, off, len, f.get(), off, [&](uint64_t n) { prog.add(0, n); });
			x.wm->mark(c.index);
			crash_point("fetch-chunk");
			std::lock_guard<std::mutex> g(log_mu);
			Fd l(::open(x.done_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
			std::string line = std::to_string(c.index) + "\n";
			if (l)
				(void)!::write(l.get(), line.data(), line.size());
		});
	} catch (...) {
		for (auto &x : in)
			x.wm->fail();
		verifier.join();
		throw;
	}
	verifier.join();
	prog.done();
	for (size_t p = 0; p < in.size(); p++) {
		auto &x = in[p];
		if (verr[p]) {
			// Corrupt: start over next time.
			::unlink(x.tmp_pack.c_str());
			::unlink(x.tmp_idx.c_str());
			::unlink(x.done_log.c_str());
			std::rethrow_exception(verr[p]);
		}
	}
	auto install = [&](Incoming &x, ObjectWriter &w) {
		if (!x.thin.made.empty()) {
			// The objects made from other packs' bases are w's; the rest
			// goes into a pack of its own.
			w.finish();
			install_thin_pack(dir, x.tmp_pack, x.tmp_idx, x.thin);
			::unlink(x.tmp_pack.c_str());
			::unlink(x.tmp_idx.c_str());
		} else {
			std::string base = dir + "/pack-" + x.name;
			{
				Fd f(::open(x.tmp_pack.c_str(), O_RDONLY | O_CLOEXEC));
				if (f)
					fsync_or_die(f.get(), x.tmp_pack);
			}
			// Pack, then idx, as every writer (design.adoc, "Durability").
			if (rename(x.tmp_pack.c_str(), (base + ".pack").c_str()) < 0 ||
			    rename(x.tmp_idx.c_str(), (base + ".idx").c_str()) < 0)
				die_errno("unable to store pack " + x.name);
		}
		::unlink(x.done_log.c_str());
		stats.packs++;
		stats.bytes += x.size;
	};
	thin_writer->finish();
	for (auto &x : in)
		if (!x.deferred)
			install(x, *thin_writer);
	s.refresh_objects();
	// Thin packs whose bases came in the packs just stored, in order.
	for (auto &x : in) {
		if (!x.deferred)
			continue;
		ObjectWriter w(s);
		w.set_previous(previous, false);
		verify(x, w, nullptr);
		install(x, w);
		w.finish();
		s.refresh_objects();
	}
	crash_point("fetch-stored");   // packs verified and in place, refs not moved
}


} // namespace pach::remote
