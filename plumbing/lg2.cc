#include "plumbing/lg2.h"

#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/git.h"
#include "plumbing/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

namespace pach {

namespace {

git_oid to_lg2(const Oid &o)
{
	git_oid g;
	std::memcpy(g.id, o.b.data(), 20);
	return g;
}

Oid from_lg2(const git_oid *g)
{
	Oid o;
	std::memcpy(o.b.data(), g->id, 20);
	return o;
}

const char *lg2_reason()
{
	const git_error *e = git_error_last();
	return e && e->message ? e->message : "?";
}

using GitBlob = Owned<git_blob, git_blob_free>;

GitBlob load_blob(const Store &s, const std::optional<Oid> &o)
{
	if (!o)
		return nullptr;
	git_blob *b = nullptr;
	git_oid g = to_lg2(*o);
	git_check(git_blob_lookup(&b, lg2_repo(s), &g), "unable to read blob " + o->hex());
	return GitBlob(b);
}

} // namespace

std::vector<Oid> walk_history(const Store &s, const Oid &start, int max)
{
	std::vector<Oid> out;
	git_revwalk *w = nullptr;
	git_check(git_revwalk_new(&w, lg2_repo(s)), "unable to walk history");
	GitRevwalk walk(w);
	git_revwalk_sorting(w, GIT_SORT_TIME);
	git_oid g = to_lg2(start);
	git_check(git_revwalk_push(w, &g), "unable to walk history");
	while ((max < 0 || (int)out.size() < max) && git_revwalk_next(&g, w) == 0)
		out.push_back(from_lg2(&g));
	return out;
}

Revparse revparse_object(const Store &s, const std::string &spec, Oid *out)
{
	git_object *o = nullptr;
	int rc = git_revparse_single(&o, lg2_repo(s), spec.c_str());
	if (rc == GIT_EAMBIGUOUS)
		return Revparse::ambiguous;
	if (rc < 0)
		return Revparse::not_found;
	GitObject own(o);
	*out = from_lg2(git_object_id(o));
	return Revparse::found;
}

TextDiff diff_text(const Store &s, const std::string &path, const std::optional<Oid> &old_blob,
		   const std::optional<Oid> &new_blob, const std::string *new_bytes)
{
	GitBlob a = load_blob(s, old_blob);
	git_diff_options o = GIT_DIFF_OPTIONS_INIT;
	git_patch *p = nullptr;
	const char *old_path = old_blob ? path.c_str() : nullptr;
	int rc;
	if (new_bytes) {
		rc = git_patch_from_blob_and_buffer(&p, a.get(), old_path, new_bytes->data(), new_bytes->size(),
						    path.c_str(), &o);
	} else {
		GitBlob b = load_blob(s, new_blob);
		rc = git_patch_from_blobs(&p, a.get(), old_path, b.get(), new_blob ? path.c_str() : nullptr, &o);
	}
	git_check(rc, "unable to diff '" + path + "'");
	GitPatch patch(p);
	TextDiff d;
	size_t context;
	git_patch_line_stats(&context, &d.added, &d.removed, p);
	for (size_t h = 0, hunks = git_patch_num_hunks(p); h < hunks; h++) {
		const git_diff_hunk *hk;
		size_t lines;
		git_patch_get_hunk(&hk, &lines, p, h);
		d.hunks.append(hk->header, hk->header_len);
		for (size_t l = 0; l < lines; l++) {
			const git_diff_line *ln;
			git_patch_get_line_in_hunk(&ln, p, h, l);
			if (ln->origin == GIT_DIFF_LINE_CONTEXT || ln->origin == GIT_DIFF_LINE_ADDITION ||
			    ln->origin == GIT_DIFF_LINE_DELETION)
				d.hunks.push_back(ln->origin);
			d.hunks.append(ln->content, ln->content_len);
		}
	}
	return d;
}

std::optional<std::string> merge_file(const std::string &base, const std::string &ours, const std::string &theirs)
{
	git_merge_file_input ib = GIT_MERGE_FILE_INPUT_INIT, io = GIT_MERGE_FILE_INPUT_INIT,
			     it = GIT_MERGE_FILE_INPUT_INIT;
	ib.ptr = base.data(), ib.size = base.size();
	io.ptr = ours.data(), io.size = ours.size();
	it.ptr = theirs.data(), it.size = theirs.size();
	git_merge_file_result mr;
	std::memset(&mr, 0, sizeof mr);
	std::optional<std::string> out;
	if (git_merge_file(&mr, &ib, &io, &it, nullptr) == 0 && mr.automergeable)
		out = std::string(mr.ptr, mr.len);
	git_merge_file_result_free(&mr);
	return out;
}

Oid index_pack_with_libgit2(const std::string &pack_path, const std::string &idx_path, const std::string &what)
{
	// The indexer writes pack-<sum>.{pack,idx} into a directory of its own.
	std::string dir = pack_path + ".lg2";
	mkdir_p(dir);
	git_indexer *ix = nullptr;
	git_indexer_options opts = GIT_INDEXER_OPTIONS_INIT;
	git_indexer_progress stats;
	if (git_indexer_new(&ix, dir.c_str(), 0, nullptr, &opts) < 0)
		die("{}: unable to index the pack: {}", what, lg2_reason());
	Owned<git_indexer, git_indexer_free> own(ix);
	Fd f(::open(pack_path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!f)
		die_errno("unable to open " + what);
	std::vector<char> buf(1 << 20);
	ssize_t n;
	while ((n = ::read(f.get(), buf.data(), buf.size())) > 0)
		if (git_indexer_append(ix, buf.data(), (size_t)n, &stats) < 0)
			die("{}: bad pack: {}", what, lg2_reason());
	if (n < 0)
		die_errno("unable to read " + what);
	if (git_indexer_commit(ix, &stats) < 0)
		die("{}: bad pack: {}", what, lg2_reason());
	Oid sum = from_lg2(git_indexer_hash(ix));
	std::string base = dir + "/pack-" + sum.hex();
	if (rename((base + ".idx").c_str(), idx_path.c_str()) < 0)
		die_errno("unable to move the index of " + what);
	::unlink((base + ".pack").c_str());
	::rmdir(dir.c_str());
	return sum;
}

std::string libgit2_version()
{
	int maj, min, rev;
	git_libgit2_version(&maj, &min, &rev);
	return std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rev);
}

} // namespace pach
