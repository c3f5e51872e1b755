#include "plumbing/stat_cache.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"

#include <fcntl.h>
#include <zlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace pach {

static constexpr char kMagic[8] = {'P', 'A', 'C', 'H', 'S', 'C', '0', '2'};
// Wider than any filesystem's timestamp granularity we care about (ext4
// and xfs stamp with the coarse clock, a few milliseconds).
static constexpr int64_t kRacyMarginNs = 50'000'000;
static constexpr size_t kFixed = 8 + 8 + 8 + 8 + 4 + 20;

int64_t now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1'000'000'000 + ts.tv_nsec;
}

static int64_t ns(const struct timespec &t)
{
	return (int64_t)t.tv_sec * 1'000'000'000 + t.tv_nsec;
}

StatKey StatKey::of(const struct stat &st)
{
	return {(uint64_t)st.st_size, (uint64_t)st.st_ino, ns(st.st_mtim), ns(st.st_ctim), (uint32_t)st.st_mode};
}

bool StatKey::racy(int64_t scan_start_ns) const
{
	// Whole-second timestamps suggest a filesystem with 1 s granularity:
	// there a file rewritten in the same second keeps its mtime.
	auto margin = [](int64_t t) { return t % 1'000'000'000 == 0 ? 1'000'000'000 : kRacyMarginNs; };
	return mtime_ns >= scan_start_ns - margin(mtime_ns) || ctime_ns >= scan_start_ns - margin(ctime_ns);
}

// One record's fixed part: size, ino, mtime, ctime, mode, oid.
template <class E> static void decode(const char *p, E &e)
{
	std::memcpy(&e.k.size, p, 8);
	std::memcpy(&e.k.ino, p + 8, 8);
	std::memcpy(&e.k.mtime_ns, p + 16, 8);
	std::memcpy(&e.k.ctime_ns, p + 24, 8);
	std::memcpy(&e.k.mode, p + 32, 4);
	std::memcpy(e.oid.b.data(), p + 36, 20);
}

static void encode(std::string &out, std::string_view path, const StatKey &k, const Oid &oid)
{
	uint32_t len = (uint32_t)path.size();
	out.append(reinterpret_cast<const char *>(&len), 4);
	out.append(path);
	out.append(reinterpret_cast<const char *>(&k.size), 8);
	out.append(reinterpret_cast<const char *>(&k.ino), 8);
	out.append(reinterpret_cast<const char *>(&k.mtime_ns), 8);
	out.append(reinterpret_cast<const char *>(&k.ctime_ns), 8);
	out.append(reinterpret_cast<const char *>(&k.mode), 4);
	out.append(reinterpret_cast<const char *>(oid.b.data()), 20);
}

StatCache::StatCache(std::string file) : file_(std::move(file)) {}

void StatCache::load()
{
	if (!path_exists(file_))
		return;
	try {
		raw_ = read_file_small(file_);
	} catch (const Error &) {
		return; // a cache: unreadable means empty
	}
	if (raw_.size() < 8 || std::memcmp(raw_.data(), kMagic, 8)) {
		raw_.clear();
		return;
	}
	size_t i = 8;
	bool sorted = true;
	recs_.reserve(raw_.size() / 96);
	while (i + 4 <= raw_.size()) {
		uint32_t len;
		std::memcpy(&len, raw_.data() + i, 4);
		i += 4;
		if (i + len + kFixed > raw_.size())
			break;
		Rec r;
		r.path = std::string_view(raw_.data() + i, len);
		i += len;
		const char *p = raw_.data() + i;
		decode(p, r.e);
		i += kFixed;
		if (!recs_.empty() && !(recs_.back().path < r.path))
			sorted = false;
		recs_.push_back(r);
	}
	if (!sorted) {
		std::sort(recs_.begin(), recs_.end(), [](auto &a, auto &b) { return a.path < b.path; });
		recs_.erase(std::unique(recs_.begin(), recs_.end(), [](auto &a, auto &b) { return a.path == b.path; }),
			    recs_.end());
	}
	state_.assign(recs_.size(), kUnseen);
}

const StatCache::Rec *StatCache::find(std::string_view path, size_t *idx, size_t *hint) const
{
	if (hint && *hint + 1 < recs_.size() && recs_[*hint + 1].path == path) {
		*idx = ++*hint;
		return &recs_[*idx];
	}
	auto it = std::lower_bound(recs_.begin(), recs_.end(), path, [](const Rec &r, std::string_view p) { return r.path < p; });
	if (it == recs_.end() || it->path != path)
		return nullptr;
	*idx = (size_t)(it - recs_.begin());
	if (hint)
		*hint = *idx;
	return &*it;
}

const Oid *StatCache::lookup(const std::string &path, const StatKey &k, size_t *hint) const
{
	size_t idx;
	const Rec *r = find(path, &idx, hint);
	if (!r || state_[idx] == kDead || r->e.k != k)
		return nullptr;
	state_[idx] = kSeen; // one byte per record: threads never share one
	return &r->e.oid;
}

void StatCache::forget(const std::string &path)
{
	size_t idx;
	if (find(path, &idx) && state_[idx] != kDead) {
		state_[idx] = kDead;
		dirty_ = true;
	}
	if (updates_.erase(path))
		dirty_ = true;
}

void StatCache::update(const std::string &path, const StatKey &k, const Oid &oid, int64_t scan_start_ns)
{
	if (k.racy(scan_start_ns)) {
		forget(path);
		return;
	}
	size_t idx;
	if (find(path, &idx))
		state_[idx] = kDead; // superseded by the update
	updates_[path] = Entry{k, oid};
	dirty_ = true;
}

void StatCache::prune_under(const std::string &dir)
{
	std::string pre = dir + "/";
	auto it = std::lower_bound(recs_.begin(), recs_.end(), std::string_view(pre),
				   [](const Rec &r, std::string_view p) { return r.path < p; });
	for (; it != recs_.end() && it->path.compare(0, pre.size(), pre) == 0; ++it) {
		size_t idx = (size_t)(it - recs_.begin());
		if (state_[idx] == kUnseen) {
			state_[idx] = kDead;
			dirty_ = true;
		}
	}
}

size_t StatCache::size() const
{
	size_t n = updates_.size();
	for (auto s : state_)
		n += s != kDead;
	return n;
}

void StatCache::save()
{
	if (!dirty_)
		return;
	std::string out(kMagic, 8);
	out.reserve(raw_.size() + updates_.size() * 120);
	auto emit = [&](std::string_view path, const Entry &e) { encode(out, path, e.k, e.oid); };
	// Merge the live records and the updates, both sorted by path.
	auto u = updates_.begin();
	for (size_t i = 0; i < recs_.size(); i++) {
		if (state_[i] == kDead)
			continue;
		while (u != updates_.end() && std::string_view(u->first) < recs_[i].path) {
			emit(u->first, u->second);
			++u;
		}
		emit(recs_[i].path, recs_[i].e);
	}
	for (; u != updates_.end(); ++u)
		emit(u->first, u->second);
	try {
		write_file_atomic(file_, out);
	} catch (const Error &) {
		// Losing the cache costs time, never correctness.
	}
	dirty_ = false;
}

// The old cache, one record at a time through a buffer.  A damaged or
// unsorted file ends where the damage starts: it is only a cache.
struct StatCacheStream::Reader {
	Fd fd;
	std::vector<char> buf = std::vector<char>(256 << 10);
	size_t pos = 0, len = 0;
	bool eof = false;
	std::string path, prev;
	struct {
		StatKey k;
		Oid oid;
	} e;
	uLong crc = crc32(0, nullptr, 0);   // of the records read
	uint64_t bytes = 0;

	// At least n bytes buffered, unless the file ends first.
	bool fill(size_t n)
	{
		if (len - pos >= n)
			return true;
		if (eof || n > buf.size())
			return false;
		std::memmove(buf.data(), buf.data() + pos, len - pos);
		len -= pos;
		pos = 0;
		while (len < n) {
			ssize_t r = ::read(fd.get(), buf.data() + len, buf.size() - len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				eof = true;
				return false;
			}
			len += (size_t)r;
		}
		return true;
	}

	bool next()
	{
		uint32_t n;
		if (!fill(4))
			return false;
		std::memcpy(&n, buf.data() + pos, 4);
		if (!fill(4 + (size_t)n + kFixed))
			return false;
		prev.swap(path);
		path.assign(buf.data() + pos + 4, n);
		decode(buf.data() + pos + 4 + n, e);
		crc = crc32(crc, reinterpret_cast<const Bytef *>(buf.data() + pos), (uInt)(4 + n + kFixed));
		bytes += 4 + (uint64_t)n + kFixed;
		pos += 4 + (size_t)n + kFixed;
		if (!prev.empty() && !(prev < path)) {
			eof = true;
			return false;
		}
		return true;
	}
};

struct StatCacheStream::Writer {
	TempFile tmp;
	std::string buf, last;
	bool any = false;
	uLong crc = crc32(0, nullptr, 0);   // of the records written
	uint64_t bytes = 0;

	explicit Writer(const std::string &file) : tmp(dirname_of(file), ".tmp-statcache-")
	{
		buf.reserve((256 << 10) + 4096);
		buf.assign(kMagic, 8);
	}
	void put(std::string_view path, const StatKey &k, const Oid &oid)
	{
		// Sorted, or the record is left out (a cache may forget).
		if (any && !(last < path))
			return;
		last.assign(path);
		any = true;
		size_t at = buf.size();
		encode(buf, path, k, oid);
		crc = crc32(crc, reinterpret_cast<const Bytef *>(buf.data() + at), (uInt)(buf.size() - at));
		bytes += buf.size() - at;
		if (buf.size() >= (256 << 10))
			flush();
	}
	void flush()
	{
		write_full(tmp.fd(), buf.data(), buf.size(), tmp.path());
		buf.clear();
	}
};

StatCacheStream::StatCacheStream(std::string file) : file_(std::move(file)), cur_(file_) {}

StatCacheStream::~StatCacheStream() = default;

bool StatCacheStream::next_old()
{
	return in_ && in_->next();
}

void StatCacheStream::begin(const std::string &prune_dir, int64_t scan_start_ns)
{
	in_.reset();
	out_.reset();   // an unfinished pass: its file goes
	prune_ = prune_dir.empty() ? "" : prune_dir + "/";
	start_ = scan_start_ns;
	if (file_.empty())
		return;
	auto r = std::make_unique<Reader>();
	r->fd = Fd(::open(cur_.c_str(), O_RDONLY | O_CLOEXEC));
	if (r->fd && r->fill(8) && !std::memcmp(r->buf.data(), kMagic, 8)) {
		r->pos = 8;
		in_ = std::move(r);
		have_ = in_->next();
	} else {
		have_ = false;
	}
	try {
		out_ = std::make_unique<Writer>(file_);
	} catch (const Error &) {
		out_.reset();   // no room for a new cache: the old one stays
	}
}

void StatCacheStream::pass_old()
{
	if (out_ && (prune_.empty() || in_->path.compare(0, prune_.size(), prune_) != 0))
		out_->put(in_->path, in_->e.k, in_->e.oid);
}

const Oid *StatCacheStream::lookup(const std::string &path, const StatKey &k)
{
	while (have_ && in_->path < path) {
		pass_old();
		have_ = next_old();
	}
	if (!have_ || in_->path != path)
		return nullptr;
	bool hit = in_->e.k == k;
	hit_ = in_->e.oid;
	have_ = next_old();
	return hit ? &hit_ : nullptr;
}

void StatCacheStream::keep(const std::string &path, const StatKey &k, const Oid &oid, int64_t as_of)
{
	// Usually lookup(path) came first and this finds nothing to pass.
	while (have_ && in_->path <= path) {
		if (in_->path != path)
			pass_old();
		have_ = next_old();
	}
	if (out_ && !k.racy(as_of ? as_of : start_))
		out_->put(path, k, oid);
}

void StatCacheStream::end()
{
	while (have_) {
		pass_old();
		have_ = next_old();
	}
	// The same records as before (a commit of an unchanged directory):
	// the file stays, no write, no fsync.
	bool same = in_ && in_->eof && in_->pos == in_->len && out_ && out_->bytes == in_->bytes && out_->crc == in_->crc;
	in_.reset();
	if (!out_)
		return;
	if (same) {
		out_.reset();
		return;
	}
	try {
		out_->flush();
		fsync_or_die(out_->tmp.fd(), out_->tmp.path());
		out_->tmp.close_fd();
	} catch (const Error &) {
		out_.reset();
		return;
	}
	cur_ = out_->tmp.path();
	done_.clear();   // the pass before, now read
	done_.push_back(std::move(out_->tmp));
	out_.reset();
}

void StatCacheStream::save()
{
	if (done_.empty())
		return;
	try {
		done_.back().rename_to(file_, false);
	} catch (const Error &) {
		// Losing the cache costs time, never correctness.
	}
	done_.clear();
	cur_ = file_;
}

} // namespace pach
