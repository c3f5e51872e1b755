#include "plumbing/oid.h"

#include "plumbing/error.h"

namespace pach {

std::optional<Oid> Oid::from_hex(std::string_view hex)
{
	if (hex.size() != 40)
		return std::nullopt;
	Oid o;
	for (int i = 0; i < 20; i++) {
		int v = 0;
		for (int j = 0; j < 2; j++) {
			char c = hex[2 * i + j];
			int d;
			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				d = c - 'A' + 10;
			else
				return std::nullopt;
			v = v * 16 + d;
		}
		o.b[i] = (unsigned char)v;
	}
	return o;
}

std::string Oid::hex() const
{
	static const char digits[] = "0123456789abcdef";
	std::string s(40, '0');
	for (int i = 0; i < 20; i++) {
		s[2 * i] = digits[b[i] >> 4];
		s[2 * i + 1] = digits[b[i] & 15];
	}
	return s;
}

bool Oid::is_zero() const
{
	for (auto c : b)
		if (c)
			return false;
	return true;
}

// Fetched once: OpenSSL 3 otherwise looks the algorithm up (under a lock)
// on every init, which costs more than hashing a small object.
static const EVP_MD *sha1_md()
{
	static const EVP_MD *md = [] {
		const EVP_MD *m = EVP_MD_fetch(nullptr, "SHA1", nullptr);
		return m ? m : EVP_sha1();
	}();
	return md;
}

Sha1::Sha1() : ctx_(EVP_MD_CTX_new())
{
	if (!ctx_ || !EVP_DigestInit_ex(ctx_, sha1_md(), nullptr))
		die("unable to initialise SHA-1");
}

Sha1::~Sha1()
{
	EVP_MD_CTX_free(ctx_);
}

Sha1::Sha1(const Sha1 &o) : ctx_(EVP_MD_CTX_new())
{
	if (!ctx_ || !EVP_MD_CTX_copy_ex(ctx_, o.ctx_))
		die("unable to copy SHA-1 state");
}

Sha1 &Sha1::operator=(const Sha1 &o)
{
	if (this != &o && !EVP_MD_CTX_copy_ex(ctx_, o.ctx_))
		die("unable to copy SHA-1 state");
	return *this;
}

void Sha1::update(const void *p, size_t n)
{
	EVP_DigestUpdate(ctx_, p, n);
}

Oid Sha1::final()
{
	Oid o;
	unsigned int len = 20;
	EVP_DigestFinal_ex(ctx_, o.b.data(), &len);
	EVP_DigestInit_ex(ctx_, sha1_md(), nullptr);
	return o;
}

const char *type_name(ObjType t)
{
	switch (t) {
	case ObjType::commit: return "commit";
	case ObjType::tree: return "tree";
	case ObjType::blob: return "blob";
	case ObjType::tag: return "tag";
	default: return "none";
	}
}

ObjType type_from_name(std::string_view s)
{
	if (s == "commit") return ObjType::commit;
	if (s == "tree") return ObjType::tree;
	if (s == "blob") return ObjType::blob;
	if (s == "tag") return ObjType::tag;
	return ObjType::none;
}

std::string object_header(ObjType t, uint64_t size)
{
	std::string h = type_name(t);
	h += ' ';
	h += std::to_string(size);
	h.push_back('\0');
	return h;
}

Oid hash_object(ObjType t, const void *data, size_t n)
{
	Sha1 s;
	auto h = object_header(t, n);
	s.update(h.data(), h.size());
	s.update(data, n);
	return s.final();
}

} // namespace pach
