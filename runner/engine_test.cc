#include "runner/engine.h"
#include "runner/kubernetes.h"

#include "plumbing/error.h"

#include <doctest/doctest.h>

using namespace pach;
using namespace pach::runner;

TEST_CASE("task ranges both ways; what an engine says is bounded by the job, not by its numbers")
{
	CHECK(array_ranges({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8");
	CHECK(array_ranges({}) == "");
	CHECK(parse_ranges("0-2,5,7-8", 100) == std::vector<size_t>{0, 1, 2, 5, 7, 8});
	CHECK(parse_ranges("", 10) == std::vector<size_t>{});
	CHECK(parse_ranges("3,1,1", 10) == std::vector<size_t>{1, 3});
	// A range past the job stops at the job's end at once.
	CHECK(parse_ranges("2-999999999999999999", 4) == std::vector<size_t>{2, 3});
	CHECK(parse_ranges("7", 4) == std::vector<size_t>{});
	for (const char *bad : {"1-", "-1", "a", "1,", ",1", "2-1", "1--2", "1 2", "9999999999999999999", "0x1"})
		CHECK_MESSAGE(!parse_ranges(bad, 10), bad);
}

TEST_CASE("Kubernetes names and images")
{
	CHECK(kube_name("My_Pipeline.v2", 63) == "my-pipeline-v2");
	CHECK(kube_name("--", 63) == "x");
	CHECK(kube_name(std::string(100, 'a'), 24).size() == 24);
	CHECK(kube_name("ab-cd", 3) == "ab");   // never ends with '-'
	CHECK(kube_image("") == "ubuntu:20.04");
	CHECK(kube_image("docker://python:3.11") == "python:3.11");
	CHECK(kube_image("registry.example/x@sha256:00") == "registry.example/x@sha256:00");
	CHECK_THROWS_AS(kube_image("dir:/srv/rootfs"), Error);
	CHECK_THROWS_AS(kube_image("oci-archive:x.tar"), Error);
}
