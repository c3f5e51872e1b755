// ListObjects (v1 and v2) over a commit's tree.  Git's tree order is the
// byte order of full paths (a directory sorts as "name/"), so a depth-first
// walk yields keys in the order S3 lists them.  A page starts by binary
// search at every level (a continuation in a directory of 100,000 files
// does not rescan it), holds only the trees on its path, and rolls a
// directory under the delimiter into one common prefix without entering it.
#include "remote/s3xml.h"
#include "serve/s3.h"

#include <algorithm>

namespace pach::serve {

using remote::xml_escape;

namespace {

bool starts_with(const std::string &s, const std::string &p)
{
	return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

// Every key below dir D (which ends in '/') is <= bound.
bool dir_all_le(const std::string &d, const std::string &bound)
{
	return bound.compare(d) > 0 && !starts_with(bound, d);
}

// The key (file) or "dir/" (directory) an entry stands for.
std::string entry_key(const std::string &dir, const TreeEntry &e)
{
	return e.is_dir() ? dir + e.name + "/" : dir + e.name;
}

} // namespace

ListPage Gateway::list(const Oid &root, const ListQuery &q)
{
	ListPage page;
	// Keys must start with the prefix and come after start_after; an
	// entry is skipped when all its keys are at or below `low`.
	const std::string &P = q.prefix, &S = q.start_after;
	std::string skip = q.after_is_prefix ? S : "";
	auto before = [&](const std::string &k, bool dir) {
		if (dir)
			return (!S.empty() && dir_all_le(k, S)) || (P.compare(k) > 0 && !starts_with(P, k));
		return (!S.empty() && k.compare(S) <= 0) || k.compare(P) < 0;
	};
	auto past = [&](const std::string &k) { return k.compare(P) > 0 && !starts_with(k, P) && !starts_with(P, k); };
	struct Frame {
		std::shared_ptr<const std::vector<TreeEntry>> kids;
		size_t i;
		std::string dir;
	};
	auto open = [&](const Oid &tree, const std::string &dir) {
		Frame f{trees_.get(tree), 0, dir};
		auto &v = *f.kids;
		f.i = (size_t)(std::partition_point(v.begin(), v.end(),
						    [&](const TreeEntry &e) { return before(entry_key(dir, e), e.is_dir()); }) -
			       v.begin());
		return f;
	};
	std::vector<Frame> stack;
	stack.push_back(open(root, ""));
	size_t emitted = 0;
	std::string last_prefix;
	auto room = [&]() {
		if (emitted < q.max_keys)
			return true;
		page.truncated = true;
		return false;
	};
	WalkBudget budget("listing");
	while (!stack.empty()) {
		Frame &f = stack.back();
		if (f.i >= f.kids->size()) {
			stack.pop_back();
			continue;
		}
		const TreeEntry &e = (*f.kids)[f.i++];
		budget.take(1);
		if (e.mode == kModeGitlink)
			continue;
		std::string k = entry_key(f.dir, e);
		if (past(k))
			break;
		if (before(k, e.is_dir()) || (!skip.empty() && starts_with(k, skip)))
			continue;
		// Rolled up under the delimiter?
		if (!q.delimiter.empty() && starts_with(k, P)) {
			size_t at = k.find(q.delimiter, P.size());
			// A directory whose path already holds the delimiter
			// rolls up whole, without being entered.
			if (at != std::string::npos) {
				std::string cp = k.substr(0, at + q.delimiter.size());
				if (cp != last_prefix) {
					if (!room())
						break;
					page.prefixes.push_back(cp);
					page.last = cp;
					page.last_is_prefix = true;
					last_prefix = cp;
					emitted++;
				}
				skip = cp;
				continue;
			}
		}
		if (e.is_dir()) {
			if ((int)stack.size() >= kMaxTreeDepth)
				throw S3Error(500, "InternalError", "the tree is nested too deep to list");
			Oid sub = e.oid;
			std::string dir = k;
			stack.push_back(open(sub, dir));
			continue;
		}
		if (!starts_with(k, P))
			continue;
		if (!room())
			break;
		Listed l;
		l.key = k;
		l.e = e;
		l.size = blob_size(e.oid);
		page.objects.push_back(std::move(l));
		page.last = k;
		page.last_is_prefix = false;
		emitted++;
	}
	return page;
}

namespace {

// A continuation token: the commit the listing started on (later pages
// list the same commit, whatever the branch did meanwhile) and where the
// last page ended.  Hex, so it survives any client's encoding.
std::string make_token(const Oid &commit, const ListPage &p)
{
	return hex_of(commit.hex() + (p.last_is_prefix ? "p" : "k") + p.last);
}

} // namespace

Response list_objects(Gateway &g, const Request &r, const Bucket &b)
{
	auto param = [&](const char *n) { return r.param(n) ? *r.param(n) : std::string(); };
	bool v2 = param("list-type") == "2";
	if (r.param("list-type") && !v2)
		throw S3Error(400, "InvalidArgument", "list-type must be 2");
	bool url = param("encoding-type") == "url";
	if (r.param("encoding-type") && !url)
		throw S3Error(400, "InvalidArgument", "encoding-type must be url");
	ListQuery q;
	q.prefix = param("prefix");
	q.delimiter = param("delimiter");
	if (auto *mk = r.param("max-keys")) {
		char *end = nullptr;
		long v = strtol(mk->c_str(), &end, 10);
		if (mk->empty() || *end || v < 0)
			throw S3Error(400, "InvalidArgument", "max-keys must be a number of 0 or more");
		q.max_keys = (size_t)std::min<long>(v, 1000);
	}
	std::optional<Oid> commit = g.head(b);
	std::string token = param("continuation-token");
	if (v2 && !token.empty()) {
		std::string t;
		std::optional<Oid> c;
		if (!unhex(token, t) || t.size() < 41 || !(c = Oid::from_hex(t.substr(0, 40))) ||
		    (t[40] != 'p' && t[40] != 'k') || g.store().object_type(*c) != ObjType::commit)
			throw S3Error(400, "InvalidArgument", "the continuation token provided is incorrect");
		commit = c;
		q.start_after = t.substr(41);
		q.after_is_prefix = t[40] == 'p';
	} else {
		q.start_after = v2 ? param("start-after") : param("marker");
	}
	ListPage page;
	int64_t mtime = 0;
	if (commit && q.max_keys) {
		CommitInfo ci = g.store().read_commit(*commit);
		mtime = ci.committer.when;
		page = g.list(ci.tree, q);
	}
	auto enc = [&](const std::string &s) { return xml_escape(url ? remote::uri_encode(s, true) : s); };
	std::string o = "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>" + xml_escape(b.name) +
			"</Name><Prefix>" + enc(q.prefix) + "</Prefix>";
	if (!q.delimiter.empty())
		o += "<Delimiter>" + enc(q.delimiter) + "</Delimiter>";
	o += "<MaxKeys>" + std::to_string(q.max_keys) + "</MaxKeys>";
	if (url)
		o += "<EncodingType>url</EncodingType>";
	o += std::string("<IsTruncated>") + (page.truncated ? "true" : "false") + "</IsTruncated>";
	if (v2) {
		o += "<KeyCount>" + std::to_string(page.objects.size() + page.prefixes.size()) + "</KeyCount>";
		if (!token.empty())
			o += "<ContinuationToken>" + xml_escape(token) + "</ContinuationToken>";
		if (page.truncated)
			o += "<NextContinuationToken>" + make_token(*commit, page) + "</NextContinuationToken>";
		if (r.param("start-after"))
			o += "<StartAfter>" + enc(param("start-after")) + "</StartAfter>";
	} else {
		o += "<Marker>" + enc(param("marker")) + "</Marker>";
		if (page.truncated)
			o += "<NextMarker>" + enc(page.last) + "</NextMarker>";
	}
	for (auto &l : page.objects)
		o += "<Contents><Key>" + enc(l.key) + "</Key><LastModified>" + iso8601(mtime) + "</LastModified><ETag>" +
		     xml_escape(g.etag(l.e.oid)) + "</ETag><Size>" + std::to_string(l.size) +
		     "</Size><StorageClass>STANDARD</StorageClass></Contents>";
	for (auto &p : page.prefixes)
		o += "<CommonPrefixes><Prefix>" + enc(p) + "</Prefix></CommonPrefixes>";
	o += "</ListBucketResult>";
	Response resp;
	resp.body = xml_doc(o);
	resp.header("Content-Type", "application/xml");
	return resp;
}

} // namespace pach::serve
