// The Kubernetes side of the cluster executor: each submission is an
// Indexed Job (completionMode Indexed, one index per task, parallelism P,
// backoffLimitPerIndex from datum_tries, restartPolicy Never) applied with
// kubectl.  The pod runs the pipeline's own image; the pach worker comes
// in as Pachyderm's does: an init container of the worker image copies a
// self-contained pach (the binary, its libraries and loader: make
// worker-image) into an emptyDir at /pach-bin, and the user container runs
// it (`pach worker --in-container`), which lays each datum out at /pfs
// and runs the transform as its child.  Credentials for an S3 remote come
// from a Secret (kubernetes.secret, else one pach applies from its own).
// One `kubectl get jobs` and one `kubectl get pods` per poll: completed
// and failed indexes, why a pod failed (OOMKilled, exit code), pods that
// can never start (ImagePullBackOff, ...).
#pragma once

#include "runner/engine.h"

namespace pach::runner {

class KubeEngine : public Engine {
public:
	KubeEngine(const Store &s, const PipelineSpec &spec, const remote::RemoteConfig &rc, remote::Backend &b);
	std::string name() const override { return "Kubernetes"; }
	// The spec's parallelism_spec; the cluster is not asked.
	size_t slots() override;
	std::set<size_t> resume() override;
	void submit(const std::vector<size_t> &tasks, size_t most) override;
	// The manifests (YAML), credentials redacted.
	std::string describe(const std::vector<size_t> &tasks, size_t most) override;
	bool poll(std::map<size_t, std::string> &ended) override;
	std::string cancel() override;
	int tries_per_submit() const override;

private:
	struct Submission {
		std::string name;
		std::vector<size_t> tasks;   // index i runs tasks[i]
		int absent = 0;              // polls it was not listed
		std::set<size_t> ended;      // indices reported ended
	};
	std::string manifests(const std::vector<size_t> &tasks, const std::string &job_name, bool redact) const;
	std::string job_name(size_t n) const;
	std::vector<std::string> kubectl(std::vector<std::string> args) const;
	void save();

	const Store &s_;
	const PipelineSpec &spec_;
	remote::RemoteConfig rc_;
	remote::Backend &b_;
	std::vector<Submission> subs_;
};

// What a pod's container must be given: the image reference for a
// Kubernetes node (a registry reference; dies on a local file or
// directory), the spec's own when it has one, else Pachyderm's default.
std::string kube_image(const std::string &image_ref);
// A Kubernetes object name (DNS label) made of `s`: lower case, [a-z0-9-],
// at most `max` characters, never empty.
std::string kube_name(const std::string &s, size_t max);

} // namespace pach::runner
