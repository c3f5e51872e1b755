# A hostile S3 endpoint for t5520: listings of 70 MiB, nothing stored.
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    def do_HEAD(self): self.reply(404)
    def do_GET(self):
        if "uploads" in self.path or "list-type" in self.path:
            body = b"<ListMultipartUploadsResult>" + b" " * (70 << 20) + b"</ListMultipartUploadsResult>"
            return self.reply(200, body)
        self.reply(404, b"<Error><Code>NoSuchKey</Code></Error>")
    def do_PUT(self):
        n = int(self.headers.get("Content-Length", 0)); self.rfile.read(n)
        self.send_response(200); self.send_header("ETag", '"x"'); self.send_header("Content-Length","0"); self.end_headers()
    def do_POST(self): self.do_PUT()
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
