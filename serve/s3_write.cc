// Writes through the S3 gateway: PutObject, CopyObject, DeleteObject(s),
// multipart uploads and CreateBucket.  A body is staged in a temporary
// file and checked (signature, checksums) before anything is stored; the
// change then joins the branch's next commit (Gateway::commit), so a
// reader sees a file whole or not at all, and a request is answered once
// its commit is durable.
#include "plumbing/address.h"
#include "plumbing/error.h"
#include "plumbing/fs.h"
#include "plumbing/meta.h"
#include "plumbing/tree_edit.h"
#include "porcelain/commit.h"
#include "porcelain/repo.h"
#include "remote/s3xml.h"
#include "serve/s3.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace pach::serve {

using remote::xml_all;
using remote::xml_escape;
using remote::xml_one;
using remote::xml_unescape;

namespace {

constexpr const char *kNs = " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";

// A request body as it comes: aws-chunked decoded, every check run on
// the decoded bytes, which go on to `sink`.
class Incoming {
public:
	Incoming(const Request &r, const Auth &a, std::function<void(const char *, size_t)> sink)
		: checks_(r, a), sink_(std::move(sink))
	{
		bool chunked = a.payload.rfind("STREAMING-", 0) == 0 ||
			       r.header_or("content-encoding").find("aws-chunked") != std::string::npos;
		if (chunked) {
			dec_ = std::make_unique<ChunkedDecoder>(a, [this](const char *p, size_t n) { pass(p, n); });
			if (auto *d = r.header("x-amz-decoded-content-length"))
				want_ = strtoull(d->c_str(), nullptr, 10), have_want_ = true;
		}
	}
	void feed(const char *p, size_t n)
	{
		if (dec_)
			dec_->feed(p, n);
		else
			pass(p, n);
	}
	// The body's MD5 (hex) once every check passed.
	std::string finish()
	{
		std::map<std::string, std::string> none;
		if (dec_) {
			dec_->finish();
			if (have_want_ && dec_->decoded() != want_)
				throw S3Error(400, "IncompleteBody", "the body is not x-amz-decoded-content-length long");
		}
		return checks_.finish(dec_ ? dec_->trailers() : none);
	}
	uint64_t size() const { return checks_.size(); }

private:
	void pass(const char *p, size_t n)
	{
		checks_.update(p, n);
		sink_(p, n);
	}
	BodyChecks checks_;
	std::function<void(const char *, size_t)> sink_;
	std::unique_ptr<ChunkedDecoder> dec_;
	uint64_t want_ = 0;
	bool have_want_ = false;
};

void write_all(int fd, const char *p, size_t n, const std::string &what)
{
	while (n) {
		ssize_t w = ::write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			throw S3Error(500, "InternalError", "unable to write " + what + ": " + strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

Response xml_ok(const std::string &body)
{
	Response r;
	r.body = xml_doc(body);
	r.header("Content-Type", "application/xml");
	return r;
}

bool valid_upload_id(const std::string &id)
{
	return is_lower_hex(id, 32);
}

// A staged body in a temporary file of the gateway's.
class PutExchange : public Exchange {
public:
	PutExchange(Gateway &g, const Request &r, const Auth &a, Bucket b, std::string key, std::vector<std::string> path)
		: g_(g), b_(std::move(b)), key_(std::move(key)), path_(std::move(path)),
		  tmp_(g.staging_dir(), "s3-put"),
		  in_(r, a, [this](const char *p, size_t n) { write_all(tmp_.fd(), p, n, "a staged upload"); })
	{
	}
	void body(const char *p, size_t n) override { in_.feed(p, n); }
	Response finish() override
	{
		std::string md5 = in_.finish();
		std::vector<Change> cs(1);
		cs[0].key = key_;
		cs[0].path = path_;
		cs[0].file = tmp_.path();
		cs[0].md5 = md5;
		auto out = g_.commit(b_, cs);
		if (cs[0].error)
			throw *cs[0].error;
		Response r;
		r.header("ETag", "\"" + md5 + "\"");
		if (out.commit)
			r.header("x-amz-version-id", out.commit->hex());
		return r;
	}

private:
	Gateway &g_;
	Bucket b_;
	std::string key_;
	std::vector<std::string> path_;
	TempFile tmp_;
	Incoming in_;
};

class PartExchange : public Exchange {
public:
	PartExchange(const Request &r, const Auth &a, std::string dir, int part)
		: dir_(std::move(dir)), part_(part), tmp_(dir_, "tmp-part"),
		  in_(r, a, [this](const char *p, size_t n) { write_all(tmp_.fd(), p, n, "an uploaded part"); })
	{
	}
	void body(const char *p, size_t n) override { in_.feed(p, n); }
	Response finish() override
	{
		std::string md5 = in_.finish();
		char name[64];
		snprintf(name, sizeof name, "part-%05d-", part_);
		// A part uploaded again replaces the earlier one.
		for (auto &n : dir_names(dir_))
			if (n.rfind(name, 0) == 0)
				unlink((dir_ + "/" + n).c_str());
		tmp_.rename_to(dir_ + "/" + name + md5, false);
		Response r;
		r.header("ETag", "\"" + md5 + "\"");
		return r;
	}

private:
	std::string dir_;
	int part_;
	TempFile tmp_;
	Incoming in_;
};

// A small XML body (DeleteObjects, CompleteMultipartUpload), at most
// kMaxXml bytes, then handled whole.
constexpr size_t kMaxXml = 4u << 20;

class XmlExchange : public Exchange {
public:
	XmlExchange(Gateway &g, const Request &r, const Auth &a, Bucket b, std::string key, std::string what)
		: g_(g), r_(r), b_(std::move(b)), key_(std::move(key)), op_(std::move(what)), in_(r, a, [this](const char *p, size_t n) {
			  if (text_.size() + n > kMaxXml)
				  throw S3Error(400, "MaxMessageLengthExceeded", "the request body is too long");
			  text_.append(p, n);
		  })
	{
	}
	void body(const char *p, size_t n) override { in_.feed(p, n); }
	Response finish() override;

private:
	Response delete_objects();
	Response complete_upload();
	Gateway &g_;
	Request r_;
	Bucket b_;
	std::string key_;
	std::string op_;
	std::string text_;
	Incoming in_;
};

Response XmlExchange::finish()
{
	in_.finish();
	return op_ == "DeleteObjects" ? delete_objects() : complete_upload();
}

Response XmlExchange::delete_objects()
{
	bool quiet = xml_one(text_, "Quiet") == "true";
	auto objs = xml_all(text_, "Object");
	if (objs.size() > 1000)
		throw S3Error(400, "MalformedXML", "at most 1000 keys may be deleted at once");
	std::vector<Change> cs;
	std::string errors, deleted;
	for (auto &o : objs) {
		std::string key = xml_unescape(xml_one(o, "Key"));
		try {
			Change c;
			c.path = key_path(key);
			c.key = key;
			c.remove = true;
			cs.push_back(std::move(c));
		} catch (const S3Error &e) {
			errors += "<Error><Key>" + xml_escape(key) + "</Key><Code>" + e.code + "</Code><Message>" +
				  xml_escape(e.what()) + "</Message></Error>";
		}
	}
	if (!cs.empty())
		g_.commit(b_, cs);
	for (auto &c : cs) {
		if (c.error)
			errors += "<Error><Key>" + xml_escape(c.key) + "</Key><Code>" + c.error->code + "</Code><Message>" +
				  xml_escape(c.error->what()) + "</Message></Error>";
		else if (!quiet)
			deleted += "<Deleted><Key>" + xml_escape(c.key) + "</Key></Deleted>";
	}
	return xml_ok(std::string("<DeleteResult") + kNs + ">" + deleted + errors + "</DeleteResult>");
}

std::string upload_dir_checked(Gateway &g, const std::string &id, const Bucket &b, const std::string &key)
{
	if (!valid_upload_id(id))
		throw S3Error(404, "NoSuchUpload", "the specified upload does not exist");
	std::string dir = g.uploads_dir() + "/" + id;
	std::string meta;
	try {
		meta = read_file_small(dir + "/meta");
	} catch (const Error &) {
		throw S3Error(404, "NoSuchUpload", "the specified upload does not exist");
	}
	if (meta != b.name + "\n" + key + "\n")
		throw S3Error(404, "NoSuchUpload", "the upload is for another bucket or key");
	return dir;
}

struct Part {
	int number;
	std::string md5, file;
	uint64_t size;
};

std::vector<Part> parts_of(const std::string &dir)
{
	std::vector<Part> v;
	for (auto &n : dir_names(dir)) {
		if (n.size() != 5 + 5 + 1 + 32 || n.rfind("part-", 0) != 0)
			continue;
		Part p;
		p.number = atoi(n.c_str() + 5);
		p.md5 = n.substr(11);
		p.file = dir + "/" + n;
		struct stat st;
		if (lstat(p.file.c_str(), &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		p.size = (uint64_t)st.st_size;
		v.push_back(p);
	}
	std::sort(v.begin(), v.end(), [](auto &a, auto &b) { return a.number < b.number; });
	return v;
}

Response XmlExchange::complete_upload()
{
	std::string id = r_.param("uploadId") ? *r_.param("uploadId") : "";
	std::string dir = upload_dir_checked(g_, id, b_, key_);
	auto have = parts_of(dir);
	auto want = xml_all(text_, "Part");
	if (want.empty())
		throw S3Error(400, "MalformedXML", "the upload names no parts");
	TempFile whole(g_.staging_dir(), "s3-multipart");
	std::string md5s;
	int prev = 0;
	for (auto &w : want) {
		int n = atoi(xml_one(w, "PartNumber").c_str());
		std::string etag = xml_unescape(xml_one(w, "ETag"));
		etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
		if (n <= prev)
			throw S3Error(400, "InvalidPartOrder", "the parts must be listed in ascending order");
		prev = n;
		auto it = std::find_if(have.begin(), have.end(), [&](const Part &p) { return p.number == n; });
		if (it == have.end() || (!etag.empty() && etag != it->md5))
			throw S3Error(400, "InvalidPart", "part " + std::to_string(n) + " was not uploaded or its ETag differs");
		Fd in(::open(it->file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
		if (!in)
			throw S3Error(404, "NoSuchUpload", "a part of the upload vanished");
		uint64_t left = it->size;
		while (left) {
			ssize_t c = copy_file_range(in.get(), nullptr, whole.fd(), nullptr, left, 0);
			if (c <= 0)
				throw S3Error(500, "InternalError", std::string("unable to join the parts: ") + strerror(errno));
			left -= (uint64_t)c;
		}
		for (int i = 0; i < 16; i++)
			md5s += (char)std::stoi(it->md5.substr(2 * i, 2), nullptr, 16);
	}
	std::vector<Change> cs(1);
	cs[0].key = key_;
	cs[0].path = key_path(key_);
	cs[0].file = whole.path();
	auto out = g_.commit(b_, cs);
	if (cs[0].error)
		throw *cs[0].error;
	remove_tree(dir);
	Digest d("md5");
	d.update(md5s.data(), md5s.size());
	std::string etag = "\"" + hex_of(d.raw()) + "-" + std::to_string(want.size()) + "\"";
	Response r = xml_ok(std::string("<CompleteMultipartUploadResult") + kNs + "><Bucket>" + xml_escape(b_.name) +
			    "</Bucket><Key>" + xml_escape(key_) + "</Key><ETag>" + xml_escape(etag) +
			    "</ETag></CompleteMultipartUploadResult>");
	if (out.commit)
		r.header("x-amz-version-id", out.commit->hex());
	return r;
}

} // namespace

std::unique_ptr<Exchange> put_object(Gateway &g, const Request &r, const Auth &a, const Bucket &b, const std::string &key)
{
	auto path = key_path(key);
	return std::make_unique<PutExchange>(g, r, a, b, key, path);
}

std::unique_ptr<Exchange> upload_part(Gateway &g, const Request &r, const Auth &a, const Bucket &b, const std::string &key)
{
	std::string dir = upload_dir_checked(g, *r.param("uploadId"), b, key);
	char *end = nullptr;
	long n = strtol(r.param("partNumber")->c_str(), &end, 10);
	if (*end || n < 1 || n > 10000)
		throw S3Error(400, "InvalidArgument", "partNumber must be 1 to 10000");
	return std::make_unique<PartExchange>(r, a, dir, (int)n);
}

std::unique_ptr<Exchange> xml_request(Gateway &g, const Request &r, const Auth &a, const Bucket &b, const std::string &key,
				      const std::string &op)
{
	if (op == "CompleteMultipartUpload")
		upload_dir_checked(g, *r.param("uploadId"), b, key);
	return std::make_unique<XmlExchange>(g, r, a, b, key, op);
}

Response copy_object(Gateway &g, const Request &r, const Bucket &b, const std::string &key)
{
	auto path = key_path(key);
	std::string src = *r.header("x-amz-copy-source"), dec;
	std::string version;
	size_t q = src.find("?versionId=");
	if (q != std::string::npos) {
		version = src.substr(q + 11);
		src = src.substr(0, q);
	}
	if (!percent_decode(src, dec))
		throw S3Error(400, "InvalidArgument", "bad x-amz-copy-source");
	if (!dec.empty() && dec[0] == '/')
		dec.erase(0, 1);
	size_t slash = dec.find('/');
	if (slash == std::string::npos)
		throw S3Error(400, "InvalidArgument", "x-amz-copy-source must be <bucket>/<key>");
	Bucket sb = g.bucket(dec.substr(0, slash), false);
	std::string skey = dec.substr(slash + 1);
	std::optional<Oid> c = g.head(sb);
	if (!version.empty() && version != "null") {
		c = Oid::from_hex(version);
		if (!c || version.size() != 40 || g.store().object_type(*c) != ObjType::commit)
			throw S3Error(400, "InvalidArgument", "invalid version id '" + version + "'");
	}
	if (!c)
		throw S3Error(404, "NoSuchKey", "the copy source does not exist");
	auto e = g.lookup(g.store().read_commit(*c).tree, key_path(skey));
	if (!e || e->is_dir() || e->mode == kModeGitlink)
		throw S3Error(404, "NoSuchKey", "the copy source does not exist");
	std::vector<Change> cs(1);
	cs[0].key = key;
	cs[0].path = path;
	cs[0].entry = *e;
	auto out = g.commit(b, cs);
	if (cs[0].error)
		throw *cs[0].error;
	Response resp = xml_ok(std::string("<CopyObjectResult") + kNs + "><LastModified>" + iso8601(out.time) +
			       "</LastModified><ETag>" + xml_escape(g.etag(e->oid)) + "</ETag></CopyObjectResult>");
	if (out.commit)
		resp.header("x-amz-version-id", out.commit->hex());
	return resp;
}

Response delete_object(Gateway &g, const Bucket &b, const std::string &key)
{
	std::vector<Change> cs(1);
	cs[0].key = key;
	cs[0].path = key_path(key);
	cs[0].remove = true;
	auto out = g.commit(b, cs);
	Response r;
	r.status = 204;
	if (out.commit)
		r.header("x-amz-version-id", out.commit->hex());
	return r;
}

Response create_multipart(Gateway &g, const Bucket &b, const std::string &key)
{
	key_path(key);
	std::string id = random_hex(16);
	std::string dir = g.uploads_dir() + "/" + id;
	mkdir_p(dir);
	write_file_atomic(dir + "/meta", b.name + "\n" + key + "\n");
	return xml_ok(std::string("<InitiateMultipartUploadResult") + kNs + "><Bucket>" + xml_escape(b.name) +
		      "</Bucket><Key>" + xml_escape(key) + "</Key><UploadId>" + id + "</UploadId></InitiateMultipartUploadResult>");
}

Response abort_multipart(Gateway &g, const Request &r, const Bucket &b, const std::string &key)
{
	remove_tree(upload_dir_checked(g, *r.param("uploadId"), b, key));
	Response resp;
	resp.status = 204;
	return resp;
}

Response list_parts(Gateway &g, const Request &r, const Bucket &b, const std::string &key)
{
	std::string id = *r.param("uploadId");
	std::string dir = upload_dir_checked(g, id, b, key);
	std::string o = std::string("<ListPartsResult") + kNs + "><Bucket>" + xml_escape(b.name) + "</Bucket><Key>" +
			xml_escape(key) + "</Key><UploadId>" + id + "</UploadId><IsTruncated>false</IsTruncated>";
	for (auto &p : parts_of(dir))
		o += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>\"" + p.md5 +
		     "\"</ETag><Size>" + std::to_string(p.size) + "</Size></Part>";
	return xml_ok(o + "</ListPartsResult>");
}

Response list_uploads(Gateway &g, const Bucket &b)
{
	std::string o = std::string("<ListMultipartUploadsResult") + kNs + "><Bucket>" + xml_escape(b.name) +
			"</Bucket><IsTruncated>false</IsTruncated>";
	for (auto &id : dir_names(g.uploads_dir())) {
		if (!valid_upload_id(id))
			continue;
		std::string meta;
		try {
			meta = read_file_small(g.uploads_dir() + "/" + id + "/meta");
		} catch (const Error &) {
			continue;
		}
		size_t nl = meta.find('\n');
		if (nl == std::string::npos || meta.substr(0, nl) != b.name)
			continue;
		std::string key = meta.substr(nl + 1);
		if (!key.empty() && key.back() == '\n')
			key.pop_back();
		o += "<Upload><Key>" + xml_escape(key) + "</Key><UploadId>" + id + "</UploadId></Upload>";
	}
	return xml_ok(o + "</ListMultipartUploadsResult>");
}

Response create_bucket(Gateway &g, const std::string &name)
{
	size_t dot = name.find('.');
	std::string repo = dot == std::string::npos ? name : name.substr(dot + 1);
	std::string branch = dot == std::string::npos ? "master" : name.substr(0, dot);
	if (repo.find('.') != std::string::npos || !valid_repo_name(repo) || !valid_branch_name(branch))
		throw S3Error(400, "InvalidBucketName", "a new bucket is <branch>.<repo> or <repo>, with valid names");
	Store &s = g.store();
	bool made = false;
	if (!repo_exists(s, repo)) {
		porcelain::repo_create(s, repo, "");
		made = true;
	}
	if (branch != "master" && !s.ref(branch_ref(repo, branch))) {
		if (!s.ref(branch_ref(repo, "master")))
			throw S3Error(400, "InvalidBucketName", "a branch starts from a commit: put something into master." + repo + " first");
		porcelain::branch_create(s, repo, branch, "master");
		made = true;
	}
	if (!made)
		throw S3Error(409, "BucketAlreadyOwnedByYou", "bucket '" + name + "' exists");
	Response r;
	r.header("Location", "/" + name);
	return r;
}

// The group commit.  The first request to find its branch idle commits
// its own change and every change that queued meanwhile; the others
// wait for that commit.
struct Gateway::BranchQueue {
	struct Waiter {
		std::vector<Change> *changes;
		CommitOutcome out;
		std::exception_ptr err;
		bool done = false;
	};
	std::mutex mu;
	std::condition_variable cv;
	bool busy = false;
	std::vector<Waiter *> waiting;
};

CommitOutcome Gateway::commit(const Bucket &b, std::vector<Change> &changes)
{
	std::shared_ptr<BranchQueue> q;
	{
		std::lock_guard<std::mutex> g(qmu_);
		auto &slot = queues_[b.repo + "\n" + b.branch];
		if (!slot)
			slot = std::make_shared<BranchQueue>();
		q = slot;
	}
	BranchQueue::Waiter me{&changes, {}, nullptr, false};
	std::unique_lock<std::mutex> lk(q->mu);
	q->waiting.push_back(&me);
	while (!me.done && q->busy)
		q->cv.wait(lk);
	if (!me.done) {
		auto mine = std::move(q->waiting);
		q->waiting.clear();
		q->busy = true;
		lk.unlock();
		std::vector<std::pair<std::vector<Change> *, CommitOutcome *>> batch;
		for (auto *w : mine)
			batch.emplace_back(w->changes, &w->out);
		std::exception_ptr err;
		try {
			commit_batch(b, batch);
		} catch (...) {
			err = std::current_exception();
		}
		lk.lock();
		for (auto *w : mine) {
			w->err = err;
			w->done = true;
		}
		q->busy = false;
		q->cv.notify_all();
	}
	if (me.err)
		std::rethrow_exception(me.err);
	return me.out;
}

void Gateway::commit_batch(const Bucket &b, std::vector<std::pair<std::vector<Change> *, CommitOutcome *>> &batch)
{
	porcelain::WriteLock lock(s_);
	auto w = std::make_unique<ObjectWriter>(s_, 1);
	std::vector<Change *> all;
	for (auto &[cs, out] : batch)
		for (auto &c : *cs)
			all.push_back(&c);
	for (Change *c : all) {
		if (c->remove || c->entry)
			continue;
		Fd fd(::open(c->file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
		struct stat st;
		if (!fd || fstat(fd.get(), &st) < 0)
			throw S3Error(500, "InternalError", "a staged upload vanished");
		Oid blob = w->blob_from_fd(fd.get(), (uint64_t)st.st_size, c->key);
		c->entry = TreeEntry{c->path.back(), kModeFile, blob};
		if (!c->md5.empty())
			md5_.put(blob, c->md5);
	}
	std::string msg;
	if (all.size() == 1)
		msg = std::string("s3: ") + (all[0]->remove ? "delete " : "put ") + all[0]->key;
	else {
		size_t puts = 0;
		for (Change *c : all)
			puts += !c->remove;
		size_t dels = all.size() - puts;
		msg = "s3: " + (puts ? fmt::format("put {} object{}", puts, puts == 1 ? "" : "s") : "") +
		      (puts && dels ? ", " : "") + (dels ? fmt::format("delete {}", dels) : "") + "\n";
		for (size_t i = 0; i < all.size() && i < 50; i++)
			msg += std::string(i ? "" : "\n") + (all[i]->remove ? "delete " : "put ") + all[i]->key + "\n";
		if (all.size() > 50)
			msg += fmt::format("... and {} more\n", all.size() - 50);
	}
	// The edit: the last change to a path wins; each is checked against
	// the branch as it is (re-run on top of a commit that won a race).
	auto edit = [&](ObjectWriter &ow, const std::optional<Oid> &base) -> Oid {
		Oid root = base ? *base : ow.tree({});
		std::map<std::vector<std::string>, Change *> last;
		for (Change *c : all) {
			c->error.reset();
			c->changed = false;
			last[c->path] = c;
		}
		auto edits_of = [&](Change *c, std::vector<TreeEdit> &out) {
			auto cur = lookup_path(ow, root, c->path);
			if (cur && cur->is_dir()) {
				if (!c->remove)
					c->error = S3Error(400, "InvalidArgument",
							   "'" + c->key + "' is a directory in this branch: it cannot also be an object");
				return;
			}
			if (c->remove) {
				if (cur)
					out.push_back({c->path, *cur, true});
				return;
			}
			TreeEntry ne = *c->entry;
			ne.name = c->path.back();
			if (cur && cur->oid == ne.oid && cur->mode == ne.mode)
				return;
			if (cur)
				out.push_back({c->path, *cur, true});
			out.push_back({c->path, ne, false});
		};
		std::vector<TreeEdit> edits;
		for (auto &[p, c] : last)
			edits_of(c, edits);
		if (auto r = apply_edits(ow, root, edits)) {
			for (auto &[p, c] : last)
				c->changed = !c->error;
			return *r;
		}
		// A conflict (a file on the way of another key): one at a
		// time, in order, so only the changes that conflict fail.
		for (Change *c : all) {
			if (last[c->path] != c)
				continue;
			std::vector<TreeEdit> one;
			edits_of(c, one);
			if (c->error || one.empty())
				continue;
			if (auto r = apply_edits(ow, root, one)) {
				root = *r;
				c->changed = true;
			} else {
				c->error = S3Error(400, "InvalidArgument",
						   "'" + c->key + "' cannot be a key here: a file of this branch is on its path");
			}
		}
		return root;
	};
	auto res = commit_on_branch(s_, b.repo, b.branch, msg, edit, std::move(w));
	for (auto &[cs, out] : batch) {
		out->commit = res.commit;
		out->time = res.commit ? s_.read_commit(*res.commit).committer.when : time(nullptr);
	}
}

} // namespace pach::serve
