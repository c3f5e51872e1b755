// git deltas: planned from chunk lists, encoded as a stream, and read
// back through a composed map of the whole chain (see delta.h).
#include "plumbing/delta.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"

#include <sys/sendfile.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace pach {

static constexpr uint64_t kMaxCopy = 0xffffff;
static constexpr uint64_t k4G = 1ull << 32;

std::vector<DeltaOp> plan_delta(const std::vector<Chunk> &target, const std::vector<Chunk> &base)
{
	std::unordered_map<std::array<unsigned char, 32>, uint64_t, ChunkHash> where;
	where.reserve(base.size());
	for (auto &c : base)
		if (c.off < k4G)
			where.emplace(c.sha, c.off);
	std::vector<DeltaOp> ops;
	for (auto &c : target) {
		auto it = where.find(c.sha);
		bool copy = it != where.end();
		uint64_t off = copy ? it->second : c.off;
		if (!ops.empty() && ops.back().copy == copy && ops.back().off + ops.back().len == off) {
			ops.back().len += c.len;
			continue;
		}
		ops.push_back({copy, off, c.len});
	}
	return ops;
}

ReadAt random_reader(std::function<std::unique_ptr<ObjectReader>()> open)
{
	auto r = std::make_shared<std::unique_ptr<ObjectReader>>();
	return [r, open = std::move(open)](uint64_t off, void *buf, size_t n) {
		auto &rd = *r;
		if (!rd || (rd->position() != off && !rd->seek(off) && rd->position() > off))
			rd = open();
		if (rd->position() != off && !rd->seek(off))
			rd->skip(off - rd->position());
		for (size_t got = 0; got < n;) {
			size_t k = rd->read(static_cast<char *>(buf) + got, n - got);
			if (!k)
				die("object shorter than its size");
			got += k;
		}
	};
}

// One insert (lit) between the copies prev and next (either may be null),
// refined on bytes read once, in increasing offsets of both objects (their
// readers may be compressed streams that cannot go back cheaply).
static void refine_one(DeltaOp *prev, DeltaOp &lit, DeltaOp *next, std::vector<DeltaOp> &out, const ReadAt &target,
		       const ReadAt &base, uint64_t base_size)
{
	constexpr uint64_t kMaxSpan = 8u << 20;
	constexpr size_t kMinRun = 32;
	uint64_t bp = prev ? prev->off + prev->len : 0;
	bool in_place = prev && next && next->off >= bp && next->off - bp == lit.len;
	// The base bytes that matter: after prev, before next.
	uint64_t b0 = prev ? bp : next ? next->off - std::min(lit.len, next->off) : 0;
	uint64_t b1 = next ? next->off : prev ? std::min(base_size, bp + lit.len) : 0;
	if (lit.len > kMaxSpan || b1 <= b0 || b1 - b0 > kMaxSpan || b1 > k4G || (prev && next && next->off < bp)) {
		out.push_back(lit);
		return;
	}
	std::vector<unsigned char> t((size_t)lit.len), b((size_t)(b1 - b0));
	target(lit.off, t.data(), t.size());
	base(b0, b.data(), b.size());
	// Forward from prev, backward from next.
	uint64_t head = 0, tail = 0;
	if (prev)
		while (head < t.size() && head < b.size() && t[head] == b[head])
			head++;
	if (next)
		while (tail < t.size() - head && tail < b.size() - (prev ? head : 0) &&
		       t[t.size() - 1 - tail] == b[b.size() - 1 - tail])
			tail++;
	if (prev)
		prev->len += head;
	uint64_t mid_t = lit.off + head, mid_len = lit.len - head - tail;
	// An edit in place: equal runs at the same alignment become copies.
	uint64_t emitted = 0;
	if (in_place && mid_len) {
		size_t run = 0;
		for (uint64_t k = head; k < head + mid_len; k++) {
			if (t[k] == b[k]) {
				run++;
				continue;
			}
			if (run >= kMinRun) {
				uint64_t rs = k - run - head;
				if (rs > emitted)
					out.push_back({false, mid_t + emitted, rs - emitted});
				out.push_back({true, b0 + head + rs, run});
				emitted = rs + run;
			}
			run = 0;
		}
		if (run >= kMinRun) {
			uint64_t rs = head + mid_len - run - head;
			if (rs > emitted)
				out.push_back({false, mid_t + emitted, rs - emitted});
			out.push_back({true, b0 + head + rs, run});
			emitted = rs + run;
		}
	}
	if (emitted < mid_len)
		out.push_back({false, mid_t + emitted, mid_len - emitted});
	if (next) {
		next->off -= tail;
		next->len += tail;
	}
}

void refine_delta(std::vector<DeltaOp> &ops, const ReadAt &target, const ReadAt &base, uint64_t base_size)
{
	std::vector<DeltaOp> split;
	for (size_t i = 0; i < ops.size(); i++) {
		if (ops[i].copy) {
			split.push_back(ops[i]);
			continue;
		}
		DeltaOp *prev = !split.empty() && split.back().copy ? &split.back() : nullptr;
		DeltaOp *next = i + 1 < ops.size() && ops[i + 1].copy ? &ops[i + 1] : nullptr;
		DeltaOp lit = ops[i];
		// prev may move when split grows: refine into a side list.
		std::vector<DeltaOp> pieces;
		DeltaOp p = prev ? *prev : DeltaOp{};
		refine_one(prev ? &p : nullptr, lit, next, pieces, target, base, base_size);
		if (prev)
			*prev = p;
		split.insert(split.end(), pieces.begin(), pieces.end());
	}
	// Drop emptied inserts; join copies that now meet.
	std::vector<DeltaOp> out;
	for (auto &o : split) {
		if (!o.len)
			continue;
		if (!out.empty() && out.back().copy && o.copy && out.back().off + out.back().len == o.off) {
			out.back().len += o.len;
			continue;
		}
		out.push_back(o);
	}
	ops.swap(out);
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t put_varint(unsigned char *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

// One copy instruction (len <= kMaxCopy, off < 4 GiB).
static size_t put_copy(unsigned char *p, uint64_t off, uint64_t len)
{
	unsigned char op = 0x80;
	size_t n = 1;
	for (int i = 0; i < 4; i++)
		if (unsigned char b = (unsigned char)(off >> (8 * i))) {
			op |= (unsigned char)(1 << i);
			p[n++] = b;
		}
	for (int i = 0; i < 3; i++)
		if (unsigned char b = (unsigned char)(len >> (8 * i))) {
			op |= (unsigned char)(0x10 << i);
			p[n++] = b;
		}
	p[0] = op;
	return n;
}

uint64_t inserted_bytes(const std::vector<DeltaOp> &ops)
{
	uint64_t n = 0;
	for (auto &o : ops)
		if (!o.copy)
			n += o.len;
	return n;
}

uint64_t delta_size(const std::vector<DeltaOp> &ops, uint64_t base_size, uint64_t target_size)
{
	uint64_t n = varint_len(base_size) + varint_len(target_size);
	unsigned char tmp[8];
	for (auto &o : ops) {
		if (!o.copy) {
			n += o.len + (o.len + 126) / 127;
			continue;
		}
		for (uint64_t done = 0; done < o.len;) {
			uint64_t l = std::min(kMaxCopy, o.len - done);
			n += put_copy(tmp, o.off + done, l);
			done += l;
		}
	}
	return n;
}

DeltaEncoder::DeltaEncoder(const std::vector<DeltaOp> &ops, uint64_t base_size, uint64_t target_size,
			   ObjectReader &target)
	: ops_(ops), target_(target)
{
	out_.resize(32);
	size_t n = put_varint(out_.data(), base_size);
	n += put_varint(out_.data() + n, target_size);
	out_.resize(n);
}

bool DeltaEncoder::refill()
{
	out_.clear();
	out_pos_ = 0;
	constexpr size_t kFill = 256 << 10;
	while (op_ < ops_.size() && out_.size() < kFill) {
		const DeltaOp &o = ops_[op_];
		uint64_t left = o.len - op_done_;
		if (o.copy) {
			uint64_t l = std::min(kMaxCopy, left);
			unsigned char tmp[8];
			size_t k = put_copy(tmp, o.off + op_done_, l);
			out_.insert(out_.end(), tmp, tmp + k);
			op_done_ += l;
		} else {
			uint64_t at = o.off + op_done_;
			if (target_.position() > at)
				die("internal error: delta inserts out of order");
			if (target_.position() < at && !target_.seek(at))
				target_.skip(at - target_.position());
			size_t l = (size_t)std::min<uint64_t>(127, left);
			size_t base = out_.size();
			out_.resize(base + 1 + l);
			out_[base] = (unsigned char)l;
			for (size_t got = 0; got < l;) {
				size_t r = target_.read(out_.data() + base + 1 + got, l - got);
				if (!r)
					die("object shorter than its chunk list says");
				got += r;
			}
			op_done_ += l;
		}
		if (op_done_ == o.len) {
			op_++;
			op_done_ = 0;
		}
	}
	return !out_.empty();
}

size_t DeltaEncoder::read(void *buf, size_t n)
{
	if (out_pos_ == out_.size() && !refill())
		return 0;
	size_t k = std::min(n, out_.size() - out_pos_);
	std::memcpy(buf, out_.data() + out_pos_, k);
	out_pos_ += k;
	return k;
}

// ---- reading -------------------------------------------------------------

namespace {

// A piece of the result: len bytes at result offset `at`, from the whole
// object at `src` (level == kWhole), or from the inserted bytes of the
// delta at `level` in the chain: a run of insert instructions whose data
// starts at stream offset src, each but the last 127 bytes long, so
// logical byte q of the run is at src + q + q / 127; the piece starts at
// logical byte q.
constexpr uint32_t kWhole = UINT32_MAX;
struct Piece {
	uint64_t at, len, src, q;
	uint32_t level;
};

uint64_t literal_pos(const Piece &p, uint64_t q)
{
	return p.src + q + q / 127;
}

// Reads a delta's instruction stream byte by byte (buffered).
class OpStream {
public:
	OpStream(ObjectReader &r, const std::string &what) : r_(r), what_(what) {}
	unsigned char byte()
	{
		if (i_ == n_) {
			n_ = r_.read(buf_, sizeof buf_);
			i_ = 0;
			if (!n_)
				die("corrupt delta in '{}': truncated", what_);
		}
		pos_++;
		return buf_[i_++];
	}
	bool at_end() const { return pos_ == r_.size(); }
	uint64_t pos() const { return pos_; }
	void skip(uint64_t n)
	{
		uint64_t inbuf = std::min<uint64_t>(n, n_ - i_);
		i_ += (size_t)inbuf;
		n -= inbuf;
		pos_ += inbuf;
		if (n) {
			if (!r_.seek(r_.position() + n))
				r_.skip(n);
			pos_ += n;
		}
	}
	uint64_t varint()
	{
		uint64_t v = 0;
		for (int shift = 0;; shift += 7) {
			if (shift > 63)
				die("corrupt delta in '{}': bad size", what_);
			unsigned char c = byte();
			v |= (uint64_t)(c & 0x7f) << shift;
			if (!(c & 0x80))
				return v;
		}
	}

private:
	ObjectReader &r_;
	const std::string &what_;
	unsigned char buf_[8192];
	size_t i_ = 0, n_ = 0;
	uint64_t pos_ = 0;
};

void add_piece(std::vector<Piece> &out, const Piece &p)
{
	if (!out.empty()) {
		Piece &b = out.back();
		if (b.level == p.level && b.level == kWhole && b.src + b.len == p.src) {
			b.len += p.len;
			return;
		}
		if (b.level == p.level && b.level != kWhole && b.src == p.src && b.q + b.len == p.q) {
			b.len += p.len;
			return;
		}
	}
	out.push_back(p);
	if (out.size() > kMaxPieces)
		throw std::length_error("delta map too large");
}

// Compose the delta read from `ops` (at chain level `level`) over the map
// of its base.  Returns the result's size.
uint64_t compose(OpStream &ops, uint32_t level, const std::vector<Piece> &base, uint64_t base_size,
		 std::vector<Piece> &out, const std::string &what)
{
	uint64_t want_base = ops.varint(), result = ops.varint();
	if (want_base != base_size)
		die("corrupt delta in '{}': its base has {} bytes, not {}", what, base_size, want_base);
	uint64_t at = 0;
	while (!ops.at_end()) {
		unsigned char op = ops.byte();
		if (op & 0x80) {
			uint64_t off = 0, len = 0;
			for (int i = 0; i < 4; i++)
				if (op & (1 << i))
					off |= (uint64_t)ops.byte() << (8 * i);
			for (int i = 0; i < 3; i++)
				if (op & (0x10 << i))
					len |= (uint64_t)ops.byte() << (8 * i);
			if (!len)
				len = 0x10000;
			if (off + len > base_size || at + len > result)
				die("corrupt delta in '{}': a copy beyond its base", what);
			auto it = std::upper_bound(base.begin(), base.end(), off,
						   [](uint64_t v, const Piece &p) { return v < p.at; });
			size_t i = (size_t)(it - base.begin()) - 1;
			while (len) {
				const Piece &b = base[i];
				uint64_t in = off - b.at, take = std::min(len, b.len - in);
				Piece p = b;
				p.at = at;
				p.len = take;
				if (b.level == kWhole)
					p.src = b.src + in;
				else
					p.q = b.q + in;
				add_piece(out, p);
				at += take;
				off += take;
				len -= take;
				i++;
			}
		} else if (op) {
			if (at + op > result)
				die("corrupt delta in '{}': inserts beyond its size", what);
			uint64_t data = ops.pos();
			// Continue a run: the previous insert was 127 bytes and its
			// data ended right before this instruction.
			Piece *b = out.empty() ? nullptr : &out.back();
			if (b && b->level == level && (b->q + b->len) % 127 == 0 &&
			    literal_pos(*b, b->q + b->len) == data && b->at + b->len == at) {
				b->len += op;
			} else {
				add_piece(out, {at, op, data, 0, level});
			}
			ops.skip(op);
			at += op;
		} else {
			die("corrupt delta in '{}': reserved instruction 0", what);
		}
	}
	if (at != result)
		die("corrupt delta in '{}': {} bytes made, {} promised", what, at, result);
	return result;
}

class ComposedReader : public ObjectReader {
public:
	ComposedReader(std::vector<Piece> pieces, std::vector<DeltaLink> chain, std::shared_ptr<Pack> whole_pack,
		       uint64_t whole_off, ObjType t, uint64_t whole_size, uint64_t size, EntryOpener open)
		: pieces_(std::move(pieces)), chain_(std::move(chain)), whole_pack_(std::move(whole_pack)),
		  whole_off_(whole_off), whole_size_(whole_size), open_(std::move(open)), readers_(chain_.size() + 1)
	{
		type_ = t;
		size_ = size;
	}

	size_t read(void *buf, size_t n) override
	{
		size_t got = 0;
		while (got < n && pos_ < size_) {
			const Piece &p = piece_at(pos_);
			uint64_t in = pos_ - p.at;
			size_t want = (size_t)std::min<uint64_t>(n - got, p.len - in);
			char *dst = static_cast<char *>(buf) + got;
			size_t r;
			if (p.level == kWhole) {
				r = source(p.level, p.src + in).read(dst, want);
			} else {
				uint64_t q = p.q + in;
				want = (size_t)std::min<uint64_t>(want, 127 - q % 127);
				uint64_t at = literal_pos(p, q);
				if (const std::string *lit = literals(p.level)) {
					if (at + want > lit->size())
						die("object shorter than its delta says");
					std::memcpy(dst, lit->data() + at, want);
					r = want;
				} else {
					r = source(p.level, at).read(dst, want);
				}
			}
			if (!r)
				die("object shorter than its delta says");
			got += r;
			pos_ += r;
		}
		return got;
	}

	bool seek(uint64_t pos) override
	{
		if (pos > size_)
			return false;
		pos_ = pos;
		return true;
	}

	void skip(uint64_t n) override
	{
		if (pos_ + n > size_)
			die("object shorter than its header says");
		pos_ += n;
	}

	// Pieces of the whole object stored as is go out by sendfile.
	void copy_to(int fd, const std::string &what) override
	{
		std::vector<std::pair<uint64_t, size_t>> ranges;
		std::vector<char> buf(1 << 20);
		while (pos_ < size_) {
			const Piece &p = piece_at(pos_);
			uint64_t in = pos_ - p.at;
			size_t want = (size_t)std::min<uint64_t>(p.len - in, buf.size());
			int src_fd = -1;
			ranges.clear();
			if (p.level == kWhole && source(kWhole, p.src + in).file_ranges(p.src + in, want, ranges, &src_fd)) {
				for (auto &[off, len] : ranges)
					send_range(fd, src_fd, off, len, what);
				pos_ += want;
				continue;
			}
			size_t r = read(buf.data(), want);
			write_full(fd, buf.data(), r, what);
		}
	}

private:
	const Piece &piece_at(uint64_t pos)
	{
		if (cur_ >= pieces_.size() || pos < pieces_[cur_].at || pos >= pieces_[cur_].at + pieces_[cur_].len) {
			if (cur_ + 1 < pieces_.size() && pos >= pieces_[cur_ + 1].at &&
			    pos < pieces_[cur_ + 1].at + pieces_[cur_ + 1].len) {
				cur_++;
			} else {
				auto it = std::upper_bound(pieces_.begin(), pieces_.end(), pos,
							   [](uint64_t v, const Piece &p) { return v < p.at; });
				cur_ = (size_t)(it - pieces_.begin()) - 1;
			}
		}
		return pieces_[cur_];
	}

	// A delta's instruction stream held in memory, when small: its inserts
	// are read 127 bytes at a time.  Bounded per delta and in all.
	const std::string *literals(uint32_t level)
	{
		static constexpr uint64_t kOne = 8u << 20, kAll = 32u << 20;
		if (lit_.empty())
			lit_.resize(chain_.size());
		auto &l = lit_[level];
		if (l)
			return l.get();
		uint64_t n = chain_[level].size;
		if (n > kOne || lit_bytes_ + n > kAll)
			return nullptr;
		auto r = open_(chain_[level].pack, chain_[level].data_off, ObjType::blob, n);
		auto s = std::make_unique<std::string>(n, '\0');
		for (size_t got = 0; got < n;) {
			size_t k = r->read(s->data() + got, n - got);
			if (!k)
				die("delta shorter than its header says");
			got += k;
		}
		lit_bytes_ += n;
		l = std::move(s);
		return l.get();
	}

	// The reader of level's stream (the whole object, or a delta's
	// instructions), positioned at pos: seeked where the data allows it,
	// else read forward, reopened to go back.
	ObjectReader &source(uint32_t level, uint64_t pos)
	{
		size_t slot = level == kWhole ? chain_.size() : level;
		auto &r = readers_[slot];
		if (r && r->position() == pos)
			return *r;
		if (r && (r->seek(pos) || (r->position() < pos && pos - r->position() < (8u << 20)))) {
			if (r->position() < pos)
				r->skip(pos - r->position());
			return *r;
		}
		if (level == kWhole)
			r = open_(whole_pack_, whole_off_, type_, whole_size_);
		else
			r = open_(chain_[level].pack, chain_[level].data_off, ObjType::blob, chain_[level].size);
		if (!r->seek(pos))
			r->skip(pos);
		return *r;
	}

	static void send_range(int out, int in, uint64_t off, size_t len, const std::string &what)
	{
		while (len) {
			off_t o = (off_t)off;
			ssize_t k = sendfile(out, in, &o, len);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0 && (errno == EINVAL || errno == ENOSYS)) {
				std::vector<char> b(std::min<size_t>(len, 1 << 20));
				while (len) {
					ssize_t r = pread(in, b.data(), std::min(len, b.size()), (off_t)off);
					if (r <= 0)
						die("unexpected end of a pack");
					write_full(out, b.data(), (size_t)r, what);
					off += (uint64_t)r;
					len -= (size_t)r;
				}
				return;
			}
			if (k < 0)
				die_write(out, what);
			if (k == 0)
				die("unexpected end of a pack");
			off += (uint64_t)k;
			len -= (size_t)k;
		}
	}

	std::vector<Piece> pieces_;
	std::vector<DeltaLink> chain_;
	std::shared_ptr<Pack> whole_pack_;
	uint64_t whole_off_, whole_size_;
	EntryOpener open_;
	std::vector<std::unique_ptr<ObjectReader>> readers_;
	std::vector<std::unique_ptr<std::string>> lit_;
	uint64_t lit_bytes_ = 0;
	size_t cur_ = 0;
};

} // namespace

std::unique_ptr<ObjectReader> open_delta_chain(const std::vector<DeltaLink> &chain,
					       const std::shared_ptr<Pack> &whole_pack, uint64_t whole_off,
					       ObjType type, uint64_t whole_size, const EntryOpener &open)
{
	std::vector<Piece> map, next;
	if (whole_size)
		map.push_back({0, whole_size, 0, 0, kWhole});
	uint64_t size = whole_size;
	try {
		for (size_t k = chain.size(); k-- > 0;) {
			auto r = open(chain[k].pack, chain[k].data_off, ObjType::blob, chain[k].size);
			OpStream ops(*r, chain[k].pack->pack_path);
			next.clear();
			size = compose(ops, (uint32_t)k, map, size, next, chain[k].pack->pack_path);
			map.swap(next);
		}
	} catch (const std::length_error &) {
		return nullptr;
	}
	map.shrink_to_fit();
	return std::make_unique<ComposedReader>(std::move(map), chain, whole_pack, whole_off, type, whole_size, size,
						open);
}

} // namespace pach
