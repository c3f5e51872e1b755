#include "plumbing/error.h"
#include "runner/spec.h"

#include <doctest/doctest.h>

using namespace pach;
using namespace pach::runner;

TEST_CASE("a Pachyderm JSON spec loads unchanged")
{
	auto r = parse_specs(R"({
  "pipeline": {"name": "edges"},
  "description": "A pipeline that performs image edge detection.",
  "transform": {"cmd": ["python3", "/edges.py"], "image": "pachyderm/opencv:1.0"},
  "input": {"pfs": {"repo": "images", "glob": "/*"}},
  "parallelism_spec": {"constant": 4},
  "datum_tries": 5,
  "resource_limits": {"memory": "1G", "cpu": 1}
})", "edges.json");
	REQUIRE(r.specs.size() == 1);
	auto &s = r.specs[0];
	CHECK(s.name == "edges");
	CHECK(s.transform.cmd == std::vector<std::string>{"python3", "/edges.py"});
	CHECK(s.input.kind == Input::pfs);
	CHECK(s.input.pfs_in.name == "images");
	CHECK(s.input.pfs_in.branch == "master");
	CHECK(s.parallelism == 4);
	CHECK(s.datum_tries == 5);
	CHECK(s.memory == "1G");
	CHECK(s.cpu == "1");
	CHECK(r.warnings.empty());
}

TEST_CASE("defaults, several documents, cron repos")
{
	auto r = parse_specs("pipeline: {name: a}\ntransform: {image: x, cmd: [sh]}\n"
			     "input: {cron: {name: tick, spec: '@every 5m'}}\n---\n"
			     "pipeline: {name: b}\ntransform: {cmd: [sh]}\nruntime: local\n"
			     "input: {pfs: {repo: a, glob: /, name: in}}\npodPatch: x\n",
			     "f.yaml");
	REQUIRE(r.specs.size() == 2);
	CHECK(r.specs[0].datum_tries == 3);
	CHECK(r.specs[0].output_branch == "master");
	CHECK(r.specs[0].input.cron_in.repo == "a_tick");
	CHECK(r.specs[1].input.pfs_in.name == "in");
	CHECK(r.specs[1].runtime == "local");
	REQUIRE(r.warnings.size() == 1);
	CHECK(r.warnings[0].find("f.yaml:9: warning: field 'podPatch' is not supported by pach: there is no Kubernetes") == 0);
}

TEST_CASE("errors carry file, line and field")
{
	auto err = [](const std::string &text) -> std::string {
		try {
			parse_specs(text, "s.yaml");
		} catch (const Error &e) {
			return e.what();
		}
		return "";
	};
	CHECK(err("pipeline: {name: a}\ninput: {pfs: {repo: r, glob: /}}\n").find("s.yaml:1: field 'transform': missing") == 0);
	CHECK(err("pipeline: {name: 'bad name'}\ntransform: {image: x, cmd: [sh]}\ninput: {pfs: {repo: r, glob: /}}\n")
		      .find("field 'pipeline.name'") != std::string::npos);
	CHECK(err("pipeline: {name: a}\ntransform: {image: x, cmd: [sh]}\ninput: {frob: {}}\n")
		      .find("unknown input type 'frob'") != std::string::npos);
	CHECK(err("pipeline: {name: a}\ntransform: {image: x, cmd: [sh]}\ninput: {pfs: {repo: r, glob: /}}\n"
		  "parallelism_spec: {constant: 0}\n")
		      .find("s.yaml:4: field 'parallelism_spec.constant'") == 0);
	CHECK(err("").find("no pipeline spec") != std::string::npos);
	CHECK(err("pipeline: {name: a}\nspout: {}\ntransform: {cmd: [sh]}\n").find("spout pipelines are not supported") !=
	      std::string::npos);
	CHECK(err("pipeline: {name: a}\ntransform: {cmd: [sh], workingDir: /a, working_dir: /b}\n"
		  "input: {pfs: {repo: r, glob: /}}\n")
		      .find("field 'transform.working_dir': given twice") != std::string::npos);
	CHECK(err("pipeline: {name: a, project: {name: x}}\ntransform: {cmd: [sh]}\ninput: {pfs: {repo: r, glob: /}}\n")
		      .find("field 'pipeline.project': project 'x'") != std::string::npos);
}

TEST_CASE("resource requests and limits, gpus")
{
	const std::string head = "pipeline: {name: a}\ntransform: {image: x, cmd: [sh]}\ninput: {pfs: {repo: r, glob: /}}\n";
	auto r = parse_specs(head + "resource_requests: {cpu: 0.5, memory: 64Mi, disk: 1Gi}\n"
				    "resourceLimits: {memory: 1G, gpu: {type: amd.com/gpu, number: 2}}\n",
			     "s.yaml");
	auto &s = r.specs.at(0);
	CHECK(s.requests.cpu == "0.5");
	CHECK(s.requests.memory == "64Mi");
	CHECK(s.requests.disk == "1Gi");
	CHECK(s.requests.gpu == 0);
	CHECK(s.memory == "1G");   // the limits the runtimes enforce
	CHECK(s.limits.gpu == 2);
	CHECK(s.limits.gpu_type == "amd.com/gpu");
	CHECK(r.warnings.empty());
	auto gpu = parse_specs(head + "resource_limits: {gpu: {number: 1}}\n", "s.yaml").specs.at(0);
	CHECK(gpu.limits.gpu_type == "nvidia.com/gpu");
	auto err = [&](const std::string &tail) -> std::string {
		try {
			parse_specs(head + tail, "s.yaml");
		} catch (const Error &e) {
			return e.what();
		}
		return "";
	};
	CHECK(err("resource_requests: {gpu: {type: \"a b\", number: 1}}\n").find("bad resource name 'a b'") !=
	      std::string::npos);
	CHECK(err("resource_limits: {gpu: {type: a/b/c}}\n").find("bad resource name") != std::string::npos);
	CHECK(err("resource_limits: {gpu: {number: -1}}\n").find("field 'resource_limits.gpu.number'") !=
	      std::string::npos);
	CHECK(err("resource_requests: {disk: lots}\n").find("field 'resource_requests.disk': bad size") !=
	      std::string::npos);
	CHECK(err("resource_requests: {cpu: many}\n").find("field 'resource_requests.cpu': bad cpu count") !=
	      std::string::npos);
	CHECK(parse_specs(head + "resource_requests: {frob: 1}\n", "s.yaml").warnings.size() == 1);
}

TEST_CASE("camelCase and snake_case name one field, at every level")
{
	auto r = parse_specs("pipeline: {name: j}\ntransform: {cmd: [sh], errCmd: [true], acceptReturnCode: [1]}\n"
			     "input: {join: [{pfs: {repo: a, glob: '/(*)', joinOn: $1, outerJoin: true}},"
			     " {pfs: {repo: b, glob: '/(*)', join_on: $1, emptyFiles: true}}]}\n"
			     "outputBranch: out\nparallelismSpec: {constant: 3}\ndatumTries: 2\n"
			     "datumTimeout: 5s\nresourceLimits: {memory: 1G}\nreprocessSpec: every_job\n",
			     "j.yaml");
	REQUIRE(r.specs.size() == 1);
	auto &s = r.specs[0];
	CHECK(s.input.children[0].pfs_in.join_on == "$1");
	CHECK(s.input.children[0].pfs_in.outer_join);
	CHECK(s.input.children[1].pfs_in.empty_files);
	CHECK(s.output_branch == "out");
	CHECK(s.parallelism == 3);
	CHECK(s.datum_tries == 2);
	CHECK(s.datum_timeout == "5s");
	CHECK(s.memory == "1G");
	CHECK(s.reprocess_spec == "every_job");
	CHECK(s.transform.err_cmd == std::vector<std::string>{"true"});
	CHECK(s.transform.accept_return_code == std::vector<int>{1});
	CHECK(s.transform.image.empty());
	CHECK(r.warnings.empty());
}

TEST_CASE("Go durations")
{
	CHECK(parse_duration("30s") == 30);
	CHECK(parse_duration("1h30m") == 5400);
	CHECK(parse_duration("500ms") == doctest::Approx(0.5));
	CHECK(parse_duration("") < 0);
	CHECK(parse_duration("soon") < 0);
	CHECK(parse_duration("5x") < 0);
}
