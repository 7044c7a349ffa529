import { describe, expect, test } from "bun:test";
import { HttpRequestParser, MAX_BODY_BYTES, type FeedResult } from "../../src/server/front/http.ts";
import type { HttpRequest } from "../../src/server/front/http.ts";

const enc = new TextEncoder();
const feed = (p: HttpRequestParser, s: string): FeedResult => p.feed(enc.encode(s));

function request(r: FeedResult): HttpRequest {
  if (r.kind !== "request") throw new Error(`expected a request, got ${JSON.stringify(r)}`);
  return r.request;
}
function errorCode(r: FeedResult): string {
  if (r.kind !== "error") throw new Error(`expected an error, got ${r.kind}`);
  return r.error.code;
}

describe("HTTP request parsing", () => {
  test("parses a GET with headers kept exactly as sent", () => {
    const r = request(feed(new HttpRequestParser(), "GET /auth HTTP/1.1\r\nHost: x\r\ncookie: webvpn=a\r\nUser-Agent: OC\r\n\r\n"));
    expect(r.method).toBe("GET");
    expect(r.url).toBe("/auth");
    expect(r.minorVersion).toBe(1);
    expect(r.headers.get("cookie")).toBe("webvpn=a");
    expect(r.headers.get("Cookie")).toBeUndefined();
    expect(r.headers.get("User-Agent")).toBe("OC");
  });

  test("waits for a body split across reads and returns it whole", () => {
    const p = new HttpRequestParser();
    expect(feed(p, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello").kind).toBe("need-more");
    const r = request(feed(p, "world"));
    expect(new TextDecoder().decode(r.body)).toBe("helloworld");
  });

  test("records HTTP/1.0 as minor version 0", () => {
    expect(request(feed(new HttpRequestParser(), "GET / HTTP/1.0\r\n\r\n")).minorVersion).toBe(0);
  });

  test("keeps unknown methods for the router to answer with 404", () => {
    expect(request(feed(new HttpRequestParser(), "DELETE / HTTP/1.1\r\n\r\n")).method).toBe("DELETE");
  });

  test("accepts a 255-byte URL and rejects a 256-byte one", () => {
    const ok = "/" + "a".repeat(254);
    expect(request(feed(new HttpRequestParser(), `GET ${ok} HTTP/1.1\r\n\r\n`)).url).toBe(ok);
    expect(errorCode(feed(new HttpRequestParser(), `GET /${"a".repeat(255)} HTTP/1.1\r\n\r\n`))).toBe("url-too-long");
  });

  test("rejects a long URL before the request line is complete", () => {
    expect(errorCode(feed(new HttpRequestParser(), `GET /${"a".repeat(300)}`))).toBe("url-too-long");
  });

  test("rejects more than 16 KiB of headers even before the blank line", () => {
    const p = new HttpRequestParser();
    expect(errorCode(feed(p, `GET / HTTP/1.1\r\nX-Pad: ${"p".repeat(17000)}`))).toBe("headers-too-large");
  });

  test("accepts a large X-Pad within the header limit", () => {
    const r = request(feed(new HttpRequestParser(), `GET / HTTP/1.1\r\nX-Pad: ${"p".repeat(16000)}\r\n\r\n`));
    expect(r.headers.get("X-Pad")?.length).toBe(16000);
  });

  test("rejects a Content-Length over 256 KiB without waiting for the body", () => {
    expect(errorCode(feed(new HttpRequestParser(), `POST / HTTP/1.1\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`))).toBe("body-too-large");
  });

  test("rejects chunked uploads", () => {
    expect(errorCode(feed(new HttpRequestParser(), "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"))).toBe("chunked-body-unsupported");
  });

  test("rejects conflicting Content-Length headers, whatever their case", () => {
    expect(errorCode(feed(new HttpRequestParser(), "POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\nab"))).toBe("bad-content-length");
  });

  test("treats a second request in the same read as pipelining", () => {
    expect(errorCode(feed(new HttpRequestParser(), "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"))).toBe("pipelined-request");
  });

  test("treats bytes after a CONNECT head in the same read as pipelining", () => {
    expect(errorCode(feed(new HttpRequestParser(), "CONNECT /CSCOSSLC/tunnel HTTP/1.1\r\n\r\nxx"))).toBe("pipelined-request");
  });

  test("allows 16 requests and refuses the 17th", () => {
    const p = new HttpRequestParser();
    for (let i = 0; i < 16; i++) expect(feed(p, "GET / HTTP/1.1\r\n\r\n").kind).toBe("request");
    expect(errorCode(feed(p, "GET / HTTP/1.1\r\n\r\n"))).toBe("too-many-requests");
  });

  test("rejects HTTP/2.0 and garbage request lines", () => {
    expect(errorCode(feed(new HttpRequestParser(), "GET / HTTP/2.0\r\n\r\n"))).toBe("unsupported-version");
    expect(errorCode(feed(new HttpRequestParser(), "hello\r\n\r\n"))).toBe("malformed-request");
    expect(errorCode(feed(new HttpRequestParser(), "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"))).toBe("malformed-request");
    expect(errorCode(feed(new HttpRequestParser(), "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"))).toBe("malformed-request");
  });

  test("stays failed after an error", () => {
    const p = new HttpRequestParser();
    errorCode(feed(p, "GET / HTTP/2.0\r\n\r\n"));
    expect(feed(p, "GET / HTTP/1.1\r\n\r\n").kind).toBe("error");
  });
});

describe("HTTP parser robustness", () => {
  test("random bytes in random pieces never throw, only parse or fail with a typed error", () => {
    // A fixed-seed generator keeps the test repeatable.
    let seed = 0x12345678;
    const rnd = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x1_0000_0000;
    };
    const alphabet = enc.encode("GET POST / HTTP/1.1\r\n:Content-Length 0123456789 abc\t");
    for (let i = 0; i < 2000; i++) {
      const p = new HttpRequestParser();
      const len = Math.floor(rnd() * 300);
      const bytes = Uint8Array.from({ length: len }, () => (rnd() < 0.8 ? (alphabet[Math.floor(rnd() * alphabet.length)] ?? 0) : Math.floor(rnd() * 256)));
      let at = 0;
      while (at < bytes.length) {
        const n = 1 + Math.floor(rnd() * 40);
        const r = p.feed(bytes.subarray(at, at + n));
        expect(["need-more", "request", "error"]).toContain(r.kind);
        if (r.kind === "error") break;
        at += n;
      }
    }
  });
});
