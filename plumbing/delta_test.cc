#include "plumbing/cdc.h"
#include "plumbing/delta.h"
#include "plumbing/error.h"
#include "plumbing/odb.h"
#include "plumbing/store.h"

#include "t/unit-store.h"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <random>
#include <string>

using namespace pach;

namespace {

std::string random_bytes(size_t n, unsigned seed)
{
	std::mt19937_64 g(seed);
	std::string s(n, '\0');
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t v = g();
		std::memcpy(&s[i], &v, 8);
	}
	return s;
}

std::vector<Chunk> chunks_of(const std::string &s, size_t piece, int bits = kMaxChunkBits)
{
	Chunker c(bits);
	for (size_t i = 0; i < s.size(); i += piece)
		c.feed(reinterpret_cast<const unsigned char *>(s.data()) + i, std::min(piece, s.size() - i));
	c.finish();
	return std::move(c.out());
}

// Commit `content` as the next version of one file in the store.
Oid put_version(TempStore &t, const std::string &content, const std::optional<Oid> &prev)
{
	std::string path = t.dir + "/file";
	{
		Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
		write_full(f.get(), content.data(), content.size(), path);
	}
	ObjectWriter w(*t.s);
	if (prev)
		w.set_previous([&](const std::string &) { return prev; });
	Fd f(::open(path.c_str(), O_RDONLY));
	Oid o = w.blob_from_fd(f.get(), content.size(), path);
	w.finish();
	return o;
}

std::string read_range(ObjectReader &r, uint64_t off, size_t n)
{
	REQUIRE(r.seek(off));
	std::string out(n, '\0');
	size_t got = 0;
	while (got < n) {
		size_t k = r.read(out.data() + got, n - got);
		REQUIRE(k > 0);
		got += k;
	}
	return out;
}

} // namespace

TEST_CASE("chunks: the same wherever the bytes come from, and an insertion moves only the chunks around it")
{
	std::string a = random_bytes(8 << 20, 1);
	auto whole = chunks_of(a, a.size());
	CHECK(whole.size() > 60);
	CHECK(chunks_of(a, 4096).size() == whole.size());
	CHECK(chunks_of(a, 1000003)[17].sha == whole[17].sha);
	uint64_t at = 0;
	for (auto &c : whole) {
		CHECK(c.off == at);
		CHECK(c.len <= (256u << 10));
		at += c.len;
	}
	CHECK(at == a.size());
	std::string b = a.substr(0, 3 << 20) + "inserted bytes" + a.substr(3 << 20);
	auto moved = chunks_of(b, 65536);
	std::set<std::array<unsigned char, 32>> have;
	for (auto &c : whole)
		have.insert(c.sha);
	size_t fresh = 0;
	for (auto &c : moved)
		fresh += !have.count(c.sha);
	CHECK(fresh <= 2);
}

TEST_CASE("versions: deltas plan, encode and read back, at any offset")
{
	TempStore t;
	const size_t n = 40 << 20;
	std::string v1 = random_bytes(n, 2);
	std::string v2 = v1;
	std::mt19937 g(3);
	for (int i = 0; i < 50; i++)
		v2.replace(g() % (n - 4096), 100 + g() % 3000, random_bytes(4096, 100 + i).substr(0, 100 + g() % 3000));
	v2.resize(n);
	std::string v3 = v2.substr(0, n / 3) + random_bytes(300000, 9) + v2.substr(n / 3);
	Oid o1 = put_version(t, v1, std::nullopt);
	Oid o2 = put_version(t, v2, o1);
	Oid o3 = put_version(t, v3, o2);
	t.s->refresh_objects();
	// One pack holds the three versions; the older two are deltas.
	auto where = t.s->odb().locate(o1);
	REQUIRE(where);
	CHECK(where->first->idx->count() == 3);
	uint64_t pack = where->first->size;
	CHECK(pack < v3.size() + (1 << 20)); // three versions in little more than one
	for (auto [o, content] : {std::pair{o1, &v1}, {o2, &v2}, {o3, &v3}}) {
		auto r = t.s->odb().open(o);
		REQUIRE(r);
		CHECK(r->size() == content->size());
		std::mt19937 pick(7);
		for (int k = 0; k < 40; k++) {
			uint64_t off = pick() % content->size();
			size_t len = std::min<size_t>(1 + pick() % 200000, content->size() - off);
			CHECK(read_range(*r, off, len) == content->substr(off, len));
		}
	}
	// And git agrees, byte for byte.
	std::string cmd = "git --git-dir='" + t.s->git_dir() + "' cat-file blob " + o1.hex() + " | cmp -s - '" +
			  t.dir + "/v1'";
	{
		Fd f(::open((t.dir + "/v1").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
		write_full(f.get(), v1.data(), v1.size(), "v1");
	}
	CHECK(std::system(cmd.c_str()) == 0);
}

TEST_CASE("plan_delta and refine: copies where the base has the bytes, inserts only what changed")
{
	TempStore t;
	std::string base = random_bytes(4 << 20, 4);
	std::string target = base;
	for (size_t at : {100000u, 1500000u, 3000000u})
		for (size_t i = 0; i < 4096; i++)
			target[at + i] ^= 0x5a;
	auto ops = plan_delta(chunks_of(target, 1 << 20), chunks_of(base, 1 << 20));
	CHECK(inserted_bytes(ops) > 3 * 4096);
	auto from = [](const std::string &s) {
		return [&s](uint64_t off, void *buf, size_t n) { std::memcpy(buf, s.data() + off, n); };
	};
	refine_delta(ops, from(target), from(base), base.size());
	CHECK(inserted_bytes(ops) == 3 * 4096);
	uint64_t at = 0;
	for (auto &o : ops)
		at += o.len;
	CHECK(at == target.size());
}
