#include "runner/manifest.h"
#include "plumbing/error.h"

#include <doctest/doctest.h>

using namespace pach;
using namespace pach::runner;

namespace {

Oid oid(char c)
{
	return *Oid::from_hex(std::string(40, c));
}

TaskManifest sample_task()
{
	TaskManifest t;
	t.objects = {oid('a'), oid('b')};
	Datum d;
	DatumFile f;
	f.input = "in_put";
	f.repo = "images";
	f.branch = "feature/x";
	f.commit = oid('c');
	f.path = "/dir with space/\xff\n%name";
	f.entry = {"%name", 0100755, oid('d')};
	f.join_key = "";
	f.group_key = "g k";
	f.has_group_by = true;
	f.empty_files = true;
	d.files.push_back(f);
	DatumFile g = f;
	g.input = "other";
	g.commit.reset();
	g.path = "/";
	g.entry = {"other", 040000, oid('e')};
	g.has_group_by = false;
	g.empty_files = false;
	g.lazy = true;
	d.files.push_back(g);
	t.datums.push_back({std::string(40, '1'), d});
	return t;
}

bool dies(const std::function<void()> &f)
{
	try {
		f();
	} catch (const Error &) {
		return true;
	}
	return false;
}

} // namespace

TEST_CASE("manifest fields: every byte string round-trips, one spelling each")
{
	std::string all;
	for (int c = 0; c < 256; c++)
		all += (char)c;
	for (std::string s : {std::string(), all, std::string("plain/x@y"), std::string("%"), std::string(" ")}) {
		std::string f = manifest_field(s);
		CHECK(f.find_first_of(" \n") == std::string::npos);
		CHECK(parse_manifest_field(f) == s);
	}
	CHECK(parse_manifest_field("") == std::nullopt);
	CHECK(parse_manifest_field("%4") == std::nullopt);
	CHECK(parse_manifest_field("%41") == std::nullopt);   // 'A' has a plain spelling
	CHECK(parse_manifest_field("%2a") == std::nullopt);   // lower-case hex is not ours
	CHECK(parse_manifest_field("a b") == std::nullopt);
}

TEST_CASE("manifest: job, task and result round-trip")
{
	JobManifest m;
	m.id = std::string(32, 'f');
	m.pipeline = "edges";
	m.image = "dir:/srv/root fs";
	m.tasks = 3;
	m.datums = 7;
	m.spec = "pipeline: {name: edges}\nmulti\nline\n";
	m.packs = {{std::string(40, 'a'), 1234}};
	JobManifest b = parse_job_manifest(format_job_manifest(m), "t");
	CHECK(b.packs == m.packs);
	CHECK(job_key(b, {}) == job_key(JobManifest(m), {}));
	JobManifest nopack = m;
	nopack.packs.clear();
	CHECK(job_key(nopack, {}) == job_key(m, {}));   // a rerun's pack may differ: not part of the key
	CHECK(b.id == m.id);
	CHECK(b.image == m.image);
	CHECK(b.runtime == "");
	CHECK(b.spec == m.spec);
	CHECK(b.tasks == 3);

	TaskManifest t = sample_task();
	std::string text = format_task(t);
	TaskManifest u = parse_task(text, "t");
	CHECK(format_task(u) == text);
	REQUIRE(u.datums.size() == 1);
	auto &f = u.datums[0].second.files;
	REQUIRE(f.size() == 2);
	CHECK(f[0].path == t.datums[0].second.files[0].path);
	CHECK(f[0].entry.mode == 0100755);
	CHECK(f[0].entry.name == "\xff\n%name");
	CHECK(f[0].empty_files);
	CHECK(f[0].has_group_by);
	CHECK(f[1].lazy);
	CHECK(!f[1].commit);
	CHECK(f[1].entry.name == "other");
	// What the worker computes from it is what the coordinator did.
	CHECK(u.datums[0].second.id() == t.datums[0].second.id());

	TaskResult r;
	r.pack = oid('9');
	DatumRecord d;
	d.id = std::string(40, '1');
	d.state = DatumState::failed;
	d.log = oid('8');
	d.secs = 1.5;
	d.attempts = 3;
	r.datums.push_back(d);
	TaskResult q = parse_result(format_result(r), "t");
	CHECK(q.pack == r.pack);
	REQUIRE(q.datums.size() == 1);
	CHECK(q.datums[0].state == DatumState::failed);
	CHECK(!q.datums[0].out_tree);
	CHECK(q.datums[0].attempts == 3);
}

TEST_CASE("manifest: hostile input is refused")
{
	std::string good = format_task(sample_task());
	auto with = [&](const std::string &from, const std::string &to) {
		std::string s = good;
		auto p = s.find(from);
		REQUIRE(p != std::string::npos);
		return s.replace(p, from.size(), to);
	};
	CHECK(dies([&] { parse_task(with("/dir%20with%20space", "/.."), "t"); }));             // path escaping /pfs
	CHECK(dies([&] { parse_task(with("/dir%20with%20space", "/a/"), "t"); }));
	CHECK(dies([&] { parse_task(with(" 100755 ", " 100666 "), "t"); }));       // modes git has
	CHECK(dies([&] { parse_task(with("in_put", "..%2F.."), "t"); }));          // input names are repo names
	CHECK(dies([&] { parse_task(with("pach-task 1", "pach-task 2"), "t"); }));
	CHECK(dies([&] { parse_task(good.substr(0, good.size() - 1), "t"); }));   // unterminated
	CHECK(dies([&] { parse_task(with("object aaaa", "object zzzz"), "t"); }));
	CHECK(dies([&] { parse_task("pach-task 1\nfile a b c - 100644 " + std::string(40, 'a') + " % /x % %\n", "t"); }));

	std::string res = "pach-result 1\npack -\ndatum " + std::string(40, '1') + " success - - 1.0 1\n";
	CHECK_NOTHROW(parse_result(res, "t"));
	for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
		     {"success", "skipped"}, {"success", "would-run"}, {"1.0", "-1"}, {"1.0", "nan"}, {" 1\n", " 99999\n"},
		     {"pack -", "pack x"}, {"pach-result 1", "pach-result"}}) {
		std::string s = res;
		s.replace(s.find(from), from.size(), to);
		CHECK(dies([&] { parse_result(s, "t"); }));
	}
	JobManifest m;
	m.id = std::string(32, 'f');
	m.pipeline = "edges";
	m.spec = "x";
	std::string job = format_job_manifest(m);
	CHECK(dies([&] { parse_job_manifest(job.substr(0, job.size() - 2), "t"); }));   // spec cut short
	std::string big = job;
	big.replace(big.find("spec 1"), 6, "spec 99999999999");
	CHECK(dies([&] { parse_job_manifest(big, "t"); }));
	std::string badname = job;
	badname.replace(badname.find("edges"), 5, "..%2F");
	CHECK(dies([&] { parse_job_manifest(badname, "t"); }));
}

TEST_CASE("group_tasks: number, size_bytes, per_task")
{
	std::vector<uint64_t> sizes = {10, 10, 10, 10, 10};
	CHECK(group_tasks(sizes, 2, 0, 100).size() == 3);
	CHECK(group_tasks(sizes, 0, 25, 100).size() == 3);    // 20, 20, 10
	CHECK(group_tasks(sizes, 0, 5, 100).size() == 5);     // a datum bigger than size_bytes is a task alone
	CHECK(group_tasks(sizes, 0, 0, 1).size() == 5);
	CHECK(group_tasks(sizes, 0, 0, 0).size() == 5);
	CHECK(group_tasks(sizes, 0, 0, 4).size() == 2);
	CHECK(group_tasks({}, 0, 0, 4).empty());
	auto g = group_tasks(sizes, 2, 0, 100);
	CHECK(g[2] == std::vector<size_t>{4});
}

#include "runner/slurm.h"

TEST_CASE("slurm: array index lists as ranges")
{
	CHECK(array_ranges({0, 1, 2, 3}) == "0-3");
	CHECK(array_ranges({3, 7}) == "3,7");
	CHECK(array_ranges({0, 2, 3, 4, 9}) == "0,2-4,9");
	CHECK(array_ranges({5}) == "5");
}
