#!/usr/bin/env python3
"""boto3 against `pach serve` (t8000): each check prints one line, 'ok NAME'
or 'FAIL NAME: why'; the exit code is the number of failures.

usage: lib-serve-boto3.py URL ACCESS_KEY SECRET_KEY STORE_DIR PACH
"""
import hashlib
import subprocess
import sys
import time
import urllib.request
import urllib.error

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.dont_write_bytecode = True
from lib_serve_checks import check, expect, failed  # noqa: E402 - t/ is the script's directory

url, ak, sk, store, pach = sys.argv[1:6]
cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, signature_version="s3v4")
s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1", config=cfg)
bad = boto3.client("s3", endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key="wrong",
                   region_name="us-east-1", config=cfg)


def pach_cat(path):
    return subprocess.run([pach, "-C", store, "cat", path], check=True, capture_output=True).stdout


def code_of(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return "no error"


# Fifty keys in two directories and at the top, listed in pages of seven.
def put_many():
    for i in range(25):
        s3.put_object(Bucket="master.data", Key="many/a/%02d.txt" % i, Body=b"a%d\n" % i)
        s3.put_object(Bucket="master.data", Key="many/b/%02d.txt" % i, Body=b"b%d\n" % i)


def list_paged():
    keys, token = [], None
    while True:
        kw = {"Bucket": "master.data", "Prefix": "many/", "MaxKeys": 7}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        keys += [o["Key"] for o in r.get("Contents", [])]
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    want = sorted(["many/a/%02d.txt" % i for i in range(25)] + ["many/b/%02d.txt" % i for i in range(25)])
    expect(keys, want)


def list_delimiter():
    r = s3.list_objects_v2(Bucket="master.data", Prefix="many/", Delimiter="/")
    expect([p["Prefix"] for p in r.get("CommonPrefixes", [])], ["many/a/", "many/b/"])
    expect(r.get("Contents", []), [])
    # Paged one at a time, prefixes too.
    got, token = [], None
    while True:
        kw = {"Bucket": "master.data", "Delimiter": "/", "MaxKeys": 1}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        got += [p["Prefix"] for p in r.get("CommonPrefixes", [])] + [o["Key"] for o in r.get("Contents", [])]
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    expect("many/" in got and len(got) == len(set(got)), True)


def list_v1():
    r = s3.list_objects(Bucket="master.data", Prefix="many/a/", MaxKeys=10)
    expect(len(r["Contents"]), 10)
    expect(r["IsTruncated"], True)
    r2 = s3.list_objects(Bucket="master.data", Prefix="many/a/", Marker=r["Contents"][-1]["Key"])
    expect(len(r2["Contents"]), 15)


def start_after():
    r = s3.list_objects_v2(Bucket="master.data", Prefix="many/", StartAfter="many/a/24.txt", MaxKeys=3)
    expect([o["Key"] for o in r["Contents"]], ["many/b/00.txt", "many/b/01.txt", "many/b/02.txt"])


def etag_is_md5():
    body = b"etag check\n" * 1000
    r = s3.put_object(Bucket="master.data", Key="etag.txt", Body=body)
    md5 = hashlib.md5(body).hexdigest()
    expect(r["ETag"], '"%s"' % md5)
    expect(s3.head_object(Bucket="master.data", Key="etag.txt")["ETag"], '"%s"' % md5)
    # A file committed by pach itself, never seen by the gateway: small,
    # so its MD5 is computed on first read.
    h = s3.head_object(Bucket="master.data", Key="x.csv")
    expect(h["ETag"], '"%s"' % hashlib.md5(pach_cat("data:/x.csv")).hexdigest())
    expect(h["ContentLength"], len(pach_cat("data:/x.csv")))


def big_etag_later():
    """An object over 8 MiB committed by pach: its MD5 is computed in the
    background after a GET, which does not wait for it; the ETag it had
    before still matches conditionals."""
    import os
    import tempfile
    body = os.urandom((9 << 20) + 17)
    with tempfile.NamedTemporaryFile(dir=store) as f:
        f.write(body)
        f.flush()
        subprocess.run([pach, "-C", store, "put", "data@master:/big9.bin", f.name], check=True,
                       capture_output=True)
    before = s3.head_object(Bucket="master.data", Key="big9.bin")["ETag"]
    if not before.endswith('-1"'):
        raise AssertionError("a never-read big object has an MD5 already: " + before)
    expect(s3.get_object(Bucket="master.data", Key="big9.bin")["Body"].read(), body)
    md5 = '"%s"' % hashlib.md5(body).hexdigest()
    for _ in range(100):
        now = s3.head_object(Bucket="master.data", Key="big9.bin")["ETag"]
        if now == md5:
            break
        time.sleep(0.1)
    expect(now, md5)
    expect(s3.get_object(Bucket="master.data", Key="big9.bin", IfMatch=before, Range="bytes=0-9")["Body"].read(),
           body[:10])
    expect(code_of(lambda: s3.get_object(Bucket="master.data", Key="big9.bin", IfNoneMatch=before)), "304")
    expect(code_of(lambda: s3.get_object(Bucket="master.data", Key="big9.bin", IfMatch='"0123"')),
           "PreconditionFailed")


def ranges():
    whole = pach_cat("data:/rand.bin")
    r = s3.get_object(Bucket="master.data", Key="rand.bin", Range="bytes=1000-1999")
    expect(r["Body"].read(), whole[1000:2000])
    expect(r["ContentRange"], "bytes 1000-1999/%d" % len(whole))
    expect(s3.get_object(Bucket="master.data", Key="rand.bin", Range="bytes=-10")["Body"].read(), whole[-10:])
    expect(s3.get_object(Bucket="master.data", Key="rand.bin", Range="bytes=%d-" % (len(whole) - 5))["Body"].read(),
           whole[-5:])
    expect(code_of(lambda: s3.get_object(Bucket="master.data", Key="rand.bin", Range="bytes=%d-" % len(whole))),
           "InvalidRange")


def conditional():
    h = s3.head_object(Bucket="master.data", Key="x.csv")
    expect(code_of(lambda: s3.get_object(Bucket="master.data", Key="x.csv", IfNoneMatch=h["ETag"])), "304")
    expect(code_of(lambda: s3.get_object(Bucket="master.data", Key="x.csv", IfMatch='"0000"')), "PreconditionFailed")


def content_md5_checked():
    import base64
    good = base64.b64encode(hashlib.md5(b"right").digest()).decode()
    expect(code_of(lambda: s3.put_object(Bucket="master.data", Key="md5.txt", Body=b"wrong", ContentMD5=good)),
           "BadDigest")
    expect(code_of(lambda: s3.head_object(Bucket="master.data", Key="md5.txt")), "404")
    s3.put_object(Bucket="master.data", Key="md5.txt", Body=b"right", ContentMD5=good)
    expect(pach_cat("data:/md5.txt"), b"right")


def delete_objects():
    s3.put_object(Bucket="master.data", Key="del/1", Body=b"1")
    s3.put_object(Bucket="master.data", Key="del/2", Body=b"2")
    r = s3.delete_objects(Bucket="master.data",
                          Delete={"Objects": [{"Key": "del/1"}, {"Key": "del/2"}, {"Key": "del/none"}]})
    expect(sorted(d["Key"] for d in r["Deleted"]), ["del/1", "del/2", "del/none"])
    expect(s3.list_objects_v2(Bucket="master.data", Prefix="del/")["KeyCount"], 0)
    s3.delete_object(Bucket="master.data", Key="etag.txt")
    expect(code_of(lambda: s3.head_object(Bucket="master.data", Key="etag.txt")), "404")


def copy_object():
    s3.copy_object(Bucket="master.data", Key="copies/x.csv", CopySource={"Bucket": "master.data", "Key": "x.csv"})
    expect(pach_cat("data:/copies/x.csv"), pach_cat("data:/x.csv"))


def versions():
    r1 = s3.put_object(Bucket="master.data", Key="v.txt", Body=b"one")
    s3.put_object(Bucket="master.data", Key="v.txt", Body=b"two")
    old = s3.get_object(Bucket="master.data", Key="v.txt", VersionId=r1["VersionId"])["Body"].read()
    expect(old, b"one")
    expect(s3.get_object(Bucket="master.data", Key="v.txt")["Body"].read(), b"two")
    # The commit as a read-only bucket.
    expect(s3.get_object(Bucket="%s.data" % r1["VersionId"], Key="v.txt")["Body"].read(), b"one")
    expect(code_of(lambda: s3.put_object(Bucket="%s.data" % r1["VersionId"], Key="w", Body=b"")), "AccessDenied")


def multipart():
    parts = [b"x" * (5 << 20), b"y" * (5 << 20), b"z" * 1000]
    u = s3.create_multipart_upload(Bucket="master.data", Key="mp/whole.bin")
    got = []
    for i, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket="master.data", Key="mp/whole.bin", UploadId=u["UploadId"], PartNumber=i, Body=p)
        got.append({"PartNumber": i, "ETag": r["ETag"]})
    lp = s3.list_parts(Bucket="master.data", Key="mp/whole.bin", UploadId=u["UploadId"])
    expect([p["Size"] for p in lp["Parts"]], [len(p) for p in parts])
    expect(code_of(lambda: s3.head_object(Bucket="master.data", Key="mp/whole.bin")), "404")
    s3.complete_multipart_upload(Bucket="master.data", Key="mp/whole.bin", UploadId=u["UploadId"],
                                 MultipartUpload={"Parts": got})
    expect(pach_cat("data:/mp/whole.bin"), b"".join(parts))
    # An aborted upload leaves nothing.
    u2 = s3.create_multipart_upload(Bucket="master.data", Key="mp/aborted.bin")
    s3.upload_part(Bucket="master.data", Key="mp/aborted.bin", UploadId=u2["UploadId"], PartNumber=1, Body=b"q")
    s3.abort_multipart_upload(Bucket="master.data", Key="mp/aborted.bin", UploadId=u2["UploadId"])
    expect(code_of(lambda: s3.list_parts(Bucket="master.data", Key="mp/aborted.bin", UploadId=u2["UploadId"])),
           "NoSuchUpload")
    expect(code_of(lambda: s3.upload_part(Bucket="master.data", Key="mp/x", UploadId="../../../../etc",
                                          PartNumber=1, Body=b"q")), "NoSuchUpload")


def presigned():
    u = s3.generate_presigned_url("get_object", Params={"Bucket": "master.data", "Key": "x.csv"}, ExpiresIn=60)
    expect(urllib.request.urlopen(u).read(), pach_cat("data:/x.csv"))
    tampered = u.replace("x.csv", "d/g.txt")
    try:
        urllib.request.urlopen(tampered)
        raise AssertionError("a tampered presigned URL was served")
    except urllib.error.HTTPError as e:
        expect(e.code, 403)
    e1 = s3.generate_presigned_url("get_object", Params={"Bucket": "master.data", "Key": "x.csv"}, ExpiresIn=1)
    time.sleep(2.1)
    try:
        urllib.request.urlopen(e1)
        raise AssertionError("an expired presigned URL was served")
    except urllib.error.HTTPError as e:
        expect(e.code, 403)
    # a download link that names the file and its type
    u = s3.generate_presigned_url("get_object", Params={
        "Bucket": "master.data", "Key": "x.csv", "ResponseContentType": "application/octet-stream",
        "ResponseContentDisposition": 'attachment; filename="report.csv"', "ResponseCacheControl": "no-store"})
    with urllib.request.urlopen(u) as resp:
        expect(resp.headers["Content-Type"], "application/octet-stream")
        expect(resp.headers["Content-Disposition"], 'attachment; filename="report.csv"')
        expect(resp.headers["Cache-Control"], "no-store")
        expect(resp.read(), pach_cat("data:/x.csv"))
    r = s3.get_object(Bucket="master.data", Key="x.csv", ResponseContentLanguage="fr")
    expect(r["ContentLanguage"], "fr")


def bad_secret():
    expect(code_of(lambda: bad.get_object(Bucket="master.data", Key="x.csv")), "SignatureDoesNotMatch")
    expect(code_of(lambda: bad.put_object(Bucket="master.data", Key="evil", Body=b"x")), "SignatureDoesNotMatch")
    expect(code_of(lambda: s3.head_object(Bucket="master.data", Key="evil")), "404")


def bad_keys():
    for k in ["../escape", "a/../../b", ".git/config", "a//b", "dir/", ".pach/x", "a/./b"]:
        expect(code_of(lambda k=k: s3.put_object(Bucket="master.data", Key=k, Body=b"x")), "InvalidArgument")


def buckets():
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    expect("master.data" in names, True)
    expect(code_of(lambda: s3.head_bucket(Bucket="master.nosuchrepo")), "404")
    expect(code_of(lambda: s3.list_objects_v2(Bucket="nosuchbranch.data")), "NoSuchBucket")
    expect(s3.get_bucket_location(Bucket="master.data").get("LocationConstraint"), None)
    s3.create_bucket(Bucket="fresh")
    s3.put_object(Bucket="fresh", Key="first.txt", Body=b"first\n")
    expect(pach_cat("fresh:/first.txt"), b"first\n")
    s3.create_bucket(Bucket="dev.fresh")
    expect("dev.fresh" in [b["Name"] for b in s3.list_buckets()["Buckets"]], True)
    expect(code_of(lambda: s3.create_bucket(Bucket="dev.fresh")), "BucketAlreadyOwnedByYou")


def file_on_the_way():
    s3.put_object(Bucket="master.data", Key="way", Body=b"file")
    expect(code_of(lambda: s3.put_object(Bucket="master.data", Key="way/below", Body=b"x")), "InvalidArgument")
    expect(code_of(lambda: s3.put_object(Bucket="master.data", Key="many", Body=b"x")), "InvalidArgument")


def odd_names():
    for k in ["sp ace.txt", "plus+sign.txt", "uni\u00e9.txt", "q?mark", "pct%41", "amp&=.txt"]:
        s3.put_object(Bucket="master.data", Key="odd/" + k, Body=k.encode())
        expect(s3.get_object(Bucket="master.data", Key="odd/" + k)["Body"].read(), k.encode())
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="master.data", Prefix="odd/")["Contents"]]
    expect(sorted(keys), sorted("odd/" + k for k in ["sp ace.txt", "plus+sign.txt", "uni\u00e9.txt", "q?mark",
                                                       "pct%41", "amp&=.txt"]))


check("put many", put_many)
check("ListObjectsV2 paged", list_paged)
check("ListObjectsV2 delimiter", list_delimiter)
check("ListObjects v1 marker", list_v1)
check("StartAfter", start_after)
check("ETag is the MD5", etag_is_md5)
check("a big object's MD5 comes later; its old ETag still matches", big_etag_later)
check("ranges", ranges)
check("conditional GET", conditional)
check("Content-MD5 checked", content_md5_checked)
check("DeleteObjects", delete_objects)
check("CopyObject", copy_object)
check("versions are commits", versions)
check("multipart upload", multipart)
check("presigned URLs", presigned)
check("a wrong secret is refused", bad_secret)
check("keys that cannot be paths", bad_keys)
check("buckets", buckets)
check("a file on the way", file_on_the_way)
check("odd key names", odd_names)

def signed(method, path, body=b"", headers=None, payload_hash=None, tamper=None):
    """A request signed by botocore's own SigV4 signer, sent with urllib."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    h = dict(headers or {})
    h["x-amz-content-sha256"] = payload_hash or hashlib.sha256(body).hexdigest()
    req = AWSRequest(method=method, url=url + path, data=body, headers=h)
    SigV4Auth(Credentials(ak, sk), "s3", "us-east-1").add_auth(req)
    p = req.prepare()
    data = tamper(body) if tamper else body
    r = urllib.request.Request(p.url, data=data if method in ("PUT", "POST") else None, method=method,
                               headers=dict(p.headers))
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def payload_hash_checked():
    st, body = signed("PUT", "/master.data/tampered.txt", b"what was signed", tamper=lambda b: b"something else!")
    expect(st, 400)
    expect(b"XAmzContentSHA256Mismatch" in body, True)
    expect(code_of(lambda: s3.head_object(Bucket="master.data", Key="tampered.txt")), "404")
    st, _ = signed("PUT", "/master.data/signed.txt", b"what was signed")
    expect(st, 200)
    expect(pach_cat("data:/signed.txt"), b"what was signed")


def crc_b64(data, poly, bits):
    """A reflected CRC from its definition (bit by bit), as S3 encodes it."""
    import base64
    mask = (1 << bits) - 1
    c = mask
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
    return base64.b64encode((c ^ mask).to_bytes(bits // 8, "big")).decode()


def no_header_injection():
    st, body = signed("GET", "/master.data/x.csv?response-content-disposition=a%0D%0AX-Injected%3A%201")
    expect((st, b"InvalidArgument" in body), (400, True))


def every_checksum():
    import base64
    body = b"checked by every algorithm S3 has\n"
    sums = {"crc32": crc_b64(body, 0xEDB88320, 32), "crc32c": crc_b64(body, 0x82F63B78, 32),
            "crc64nvme": crc_b64(body, 0x9A6C9329AC4BC9B5, 64),
            "sha1": base64.b64encode(hashlib.sha1(body).digest()).decode(),
            "sha256": base64.b64encode(hashlib.sha256(body).digest()).decode()}
    for name, value in sums.items():
        st, _ = signed("PUT", "/master.data/sum-%s.txt" % name, body, headers={"x-amz-checksum-" + name: value})
        expect((name, st), (name, 200))
        expect(pach_cat("data:/sum-%s.txt" % name), body)
        # the same header over another body: refused, nothing stored
        st, resp = signed("PUT", "/master.data/badsum-%s.txt" % name, body + b"!",
                          headers={"x-amz-checksum-" + name: value})
        expect((name, st, b"BadDigest" in resp), (name, 400, True))
        expect(code_of(lambda: s3.head_object(Bucket="master.data", Key="badsum-%s.txt" % name)), "404")
    st, resp = signed("PUT", "/master.data/sum-md5.txt", body, headers={"x-amz-checksum-md5": "AAAA"})
    expect((st, b"NotImplemented" in resp), (501, True))


def aws_chunked(tamper_chunk):
    """A STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload, chunk signatures made
    here from SigV4's definition (botocore does not send them)."""
    import datetime
    import hmac
    data = [b"first chunk " * 700, b"second chunk " * 300]
    now = datetime.datetime.utcnow()
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = day + "/us-east-1/s3/aws4_request"

    def hm(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()
    key = hm(hm(hm(hm(("AWS4" + sk).encode(), day), "us-east-1"), "s3"), "aws4_request")
    host = url.split("//")[1]
    total = sum(len(c) for c in data)
    path = "/master.data/chunked.txt"
    hdrs = {"host": host, "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "x-amz-date": amz_date,
            "x-amz-decoded-content-length": str(total), "content-encoding": "aws-chunked"}
    names = sorted(hdrs)
    creq = "PUT\n%s\n\n%s\n%s\nSTREAMING-AWS4-HMAC-SHA256-PAYLOAD" % (
        path, "".join("%s:%s\n" % (n, hdrs[n]) for n in names), ";".join(names))
    sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amz_date, scope, hashlib.sha256(creq.encode()).hexdigest())
    seed = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    body, prev = b"", seed
    empty = hashlib.sha256(b"").hexdigest()
    for c in data + [b""]:
        sig = hmac.new(key, ("AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s" % (
            amz_date, scope, prev, empty, hashlib.sha256(c).hexdigest())).encode(), hashlib.sha256).hexdigest()
        sent = c.replace(b"second", b"SECOND") if tamper_chunk and c else c
        body += b"%x;chunk-signature=%s\r\n" % (len(c), sig.encode()) + sent + b"\r\n"
        prev = sig
    hdrs["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s,SignedHeaders=%s,Signature=%s" % (
        ak, scope, ";".join(names), seed)
    del hdrs["host"]
    r = urllib.request.Request(url + path, data=body, method="PUT", headers=hdrs)
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, b"".join(data)
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def chunked_signatures():
    st, body = aws_chunked(tamper_chunk=True)
    expect(st, 403)
    expect(code_of(lambda: s3.head_object(Bucket="master.data", Key="chunked.txt")), "404")
    st, want = aws_chunked(tamper_chunk=False)
    expect(st, 200)
    expect(pach_cat("data:/chunked.txt"), want)


def concurrent_puts():
    import threading
    errs = []

    def one(i):
        try:
            c = boto3.client("s3", endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key=sk,
                             region_name="us-east-1", config=cfg)
            c.put_object(Bucket="master.data", Key="par/%02d" % i, Body=b"%d" % i)
        except Exception as e:  # noqa: BLE001
            errs.append(e)
    ts = [threading.Thread(target=one, args=(i,)) for i in range(32)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    expect(errs, [])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="master.data", Prefix="par/")["Contents"]]
    expect(keys, ["par/%02d" % i for i in range(32)])


def slow_reader_blocks_nobody():
    import socket
    host, port = url.split("//")[1].split(":")
    stalled = []
    for _ in range(4):
        so = socket.create_connection((host, int(port)))
        u = s3.generate_presigned_url("get_object", Params={"Bucket": "master.data", "Key": "rand.bin"})
        so.sendall(("GET %s HTTP/1.1\r\nHost: %s:%s\r\n\r\n" % (u.split(port, 1)[1], host, port)).encode())
        so.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.append(so)
    t0 = time.time()
    for _ in range(20):
        s3.get_object(Bucket="master.data", Key="x.csv")["Body"].read()
    took = time.time() - t0
    for so in stalled:
        so.close()
    if took > 5:
        raise AssertionError("20 GETs took %.1f s beside 4 stalled readers" % took)


check("a signed payload hash is checked", payload_hash_checked)
check("response-* parameters cannot inject headers", no_header_injection)
check("x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1, -sha256 are checked", every_checksum)
check("aws-chunked chunk signatures", chunked_signatures)
check("32 concurrent puts", concurrent_puts)
check("stalled readers block nobody", slow_reader_blocks_nobody)
sys.exit(failed())
