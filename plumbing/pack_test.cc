#include "plumbing/error.h"
#include "plumbing/odb.h"
#include "plumbing/store.h"

#include "t/unit-store.h"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

using namespace pach;

namespace {


std::string random_bytes(size_t n, unsigned seed)
{
	std::mt19937 g(seed);
	std::string s(n, '\0');
	for (auto &c : s)
		c = (char)(g() & 0xff);
	return s;
}

std::string read_all(ObjectReader &r)
{
	std::string out, buf(1 << 16, '\0');
	for (;;) {
		size_t n = r.read(buf.data(), buf.size());
		if (!n)
			break;
		out.append(buf.data(), n);
	}
	return out;
}

int file_with(const std::string &dir, const std::string &content)
{
	std::string p = dir + "/blob";
	int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
	write_full(fd, content.data(), content.size(), p);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

} // namespace

TEST_CASE("blobs round-trip through packs: stored, compressed, empty, own-pack")
{
	TempStore t;
	std::string text;
	for (int i = 0; i < 100000; i++)
		text += "line " + std::to_string(i) + "\n";
	std::string cases[] = {std::string(), std::string("x"), random_bytes(3 << 20, 1), text,
			       random_bytes(ObjectWriter::kOwnPack + 12345, 2)};
	std::vector<Oid> ids;
	{
		ObjectWriter w(*t.s, 2);
		for (auto &c : cases) {
			Fd fd(file_with(t.dir, c));
			Oid o = w.blob_from_fd(fd.get(), c.size(), "blob", 1);
			CHECK(o == hash_object(ObjType::blob, c.data(), c.size()));
			ids.push_back(o);
		}
		w.finish();
	}
	for (size_t i = 0; i < ids.size(); i++) {
		auto r = t.s->odb().open(ids[i]);
		REQUIRE(r);
		CHECK(r->type() == ObjType::blob);
		CHECK(r->size() == cases[i].size());
		CHECK(read_all(*r) == cases[i]);
	}
	// The large random blob went into a pack of its own.
	CHECK(t.s->odb().packs().size() == 2);
	// And real git agrees with every byte of both packs.
	CHECK(std::system(("git --git-dir='" + t.s->git_dir() + "' fsck --strict --no-dangling >/dev/null 2>&1").c_str()) == 0);
}

TEST_CASE("a blob already in the store is not written again")
{
	TempStore t;
	std::string c = random_bytes(100000, 3);
	{
		ObjectWriter w(*t.s);
		Fd fd(file_with(t.dir, c));
		w.blob_from_fd(fd.get(), c.size(), "blob");
		w.finish();
	}
	ObjectWriter w(*t.s);
	Fd fd(file_with(t.dir, c));
	w.blob_from_fd(fd.get(), c.size(), "blob");
	CHECK(w.objects_written() == 0);
	w.finish();
	CHECK(t.s->odb().packs().size() == 1);
}

TEST_CASE("a file shorter than announced is an error, and leaves nothing")
{
	TempStore t;
	std::string c = random_bytes(1000, 4);
	{
		ObjectWriter w(*t.s);
		Fd fd(file_with(t.dir, c));
		CHECK_THROWS_AS(w.blob_from_fd(fd.get(), c.size() + 10, "blob"), Error);
	}
	CHECK(t.s->odb().packs().empty());
}

TEST_CASE("copy_to streams a stored blob to a file descriptor")
{
	TempStore t;
	std::string c = random_bytes(5 << 20, 5);
	Oid o;
	{
		ObjectWriter w(*t.s);
		Fd fd(file_with(t.dir, c));
		o = w.blob_from_fd(fd.get(), c.size(), "blob");
		w.finish();
	}
	std::string out = t.dir + "/out";
	Fd ofd(::open(out.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644));
	auto r = t.s->odb().open(o);
	r->skip(1000);
	r->copy_to(ofd.get(), out);
	CHECK(read_file_small(out) == c.substr(1000));
}

TEST_CASE("nothing is visible, and nothing stays, until finish()")
{
	TempStore t;
	std::string big = random_bytes(ObjectWriter::kOwnPack + 1, 6), small = random_bytes(1000, 7);
	auto pack_files = [&] {
		int n = 0;
		for (auto &e : std::filesystem::directory_iterator(t.s->odb().pack_dir()))
			n += e.path().filename().string().rfind("pack-", 0) == 0;
		return n;
	};
	auto any_files = [&] { return !std::filesystem::is_empty(t.s->odb().pack_dir()); };
	{
		ObjectWriter w(*t.s);
		Fd a(file_with(t.dir, big));
		w.blob_from_fd(a.get(), big.size(), "big");
		Fd b(file_with(t.dir, small));
		w.blob_from_fd(b.get(), small.size(), "small");
		CHECK(pack_files() == 0);
		// A failure now (the writer goes without finish) leaves nothing.
	}
	CHECK_FALSE(any_files());
	ObjectWriter w(*t.s);
	Fd a(file_with(t.dir, big));
	Oid o = w.blob_from_fd(a.get(), big.size(), "big");
	w.finish();
	CHECK(pack_files() == 2); // .pack and .idx
	CHECK(t.s->odb().contains(o));
}

TEST_CASE("big reads of a stored blob (one preadv over its blocks) agree with small ones, from any start")
{
	TempStore t;
	// 9 MiB and a bit: crosses the index's 4 MiB steps, ends in a short block
	std::string c = random_bytes((9 << 20) + 4321, 6);
	Oid o;
	{
		ObjectWriter w(*t.s);
		Fd fd(file_with(t.dir, c));
		o = w.blob_from_fd(fd.get(), c.size(), "blob");
		w.finish();
	}
	for (size_t chunk : {(size_t)(256 << 10), (size_t)(1 << 20) + 7, (size_t)(5 << 20), c.size()})
		for (uint64_t start : {(uint64_t)0, (uint64_t)65534, (uint64_t)65535, (uint64_t)(6 << 20) + 3}) {
			auto r = t.s->odb().open(o);
			r->skip(start);
			std::string out, buf(chunk, '\0');
			for (;;) {
				size_t n = r->read(buf.data(), buf.size());
				if (!n)
					break;
				out.append(buf.data(), n);
			}
			CHECK_MESSAGE(out == c.substr(start), "chunk " << chunk << " from " << start);
		}
	// pieces as file_ranges gives them, read by pread_ranges
	auto r = t.s->odb().open(o);
	std::vector<std::pair<uint64_t, size_t>> ranges;
	int fd = -1;
	REQUIRE(r->file_ranges(100, c.size() - 100, ranges, &fd));
	CHECK(ranges.size() > 140);
	std::string got(c.size() - 100, '\0');
	CHECK(pread_ranges(fd, ranges, got.data()) == (ssize_t)got.size());
	CHECK(got == c.substr(100));
	// a gap too wide to read through, and pieces out of order: still right
	std::vector<std::pair<uint64_t, size_t>> odd = {ranges[5], ranges[1], ranges[2], ranges[9]};
	size_t total = 0;
	for (auto &p : odd)
		total += p.second;
	std::string odd_got(total, '\0');
	CHECK(pread_ranges(fd, odd, odd_got.data()) == (ssize_t)total);
	std::string odd_want;
	for (auto &p : odd) {
		std::string piece(p.second, '\0');
		REQUIRE(pread(fd, piece.data(), p.second, (off_t)p.first) == (ssize_t)p.second);
		odd_want += piece;
	}
	CHECK(odd_got == odd_want);
	// past the end of the file: short, not an error
	std::pair<uint64_t, size_t> tail = ranges.back();
	std::vector<std::pair<uint64_t, size_t>> over = {tail, {tail.first + tail.second + 5, 1 << 20}};
	std::string over_got(tail.second + (1 << 20), '\0');
	ssize_t k = pread_ranges(fd, over, over_got.data());
	CHECK(k >= (ssize_t)tail.second);
	CHECK(k < (ssize_t)over_got.size());
}
