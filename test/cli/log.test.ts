import { describe, expect, test } from "bun:test";
import { createLogger, createStderrSink, consolaLevelFor, type LogSink, type Severity } from "../../src/log/index.ts";

function memorySink(): LogSink & { lines: [Severity, string][]; closed: boolean } {
  const sink = {
    lines: [] as [Severity, string][],
    closed: false,
    write(s: Severity, l: string) {
      sink.lines.push([s, l]);
    },
    close() {
      sink.closed = true;
    },
  };
  return sink;
}

describe("logger", () => {
  test("control characters from the network cannot forge log lines: CR, LF and ESC are escaped", () => {
    const sink = memorySink();
    const log = createLogger({ level: 2, sinks: [sink] });
    log.info(`user 'eve\nocserv[1]: user 'admin' authenticated\r\x1b[2J' from 10.0.0.1`);
    expect(sink.lines).toEqual([["info", "user 'eve\\x0aocserv[1]: user 'admin' authenticated\\x0d\\x1b[2J' from 10.0.0.1"]]);
    log.child("worker\n1").info("x\ty");
    expect(sink.lines[1]).toEqual(["info", "worker\\x0a1: x\ty"]);
  });

  test("at the default level 2, info, warnings and errors are written and debug is not", () => {
    const sink = memorySink();
    const log = createLogger({ level: 2, sinks: [sink] });
    log.error("e");
    log.warn("w");
    log.info("i");
    log.debug("d");
    log.trace("t");
    expect(sink.lines).toEqual([["error", "e"], ["warn", "w"], ["info", "i"]]);
    expect(log.level).toBe(2);
  });

  test("level 3 adds debug, and level 4 and above add trace", () => {
    const at3 = memorySink();
    createLogger({ level: 3, sinks: [at3] }).debug("d");
    createLogger({ level: 3, sinks: [at3] }).trace("t");
    expect(at3.lines).toEqual([["debug", "d"]]);
    const at9 = memorySink();
    createLogger({ level: 9, sinks: [at9] }).trace("t");
    expect(at9.lines).toEqual([["trace", "t"]]);
    expect([0, 1, 2, 3, 4, 5, 8, 9, 9999].map(consolaLevelFor)).toEqual([3, 3, 3, 4, 5, 5, 5, 5, 5]);
  });

  test("child loggers prefix their messages and keep the level", () => {
    const sink = memorySink();
    const log = createLogger({ level: 2, sinks: [sink] });
    const worker = log.child("sec-mod").child("worker");
    worker.info("started %d", 3);
    expect(sink.lines).toEqual([["info", "sec-mod:worker: started 3"]]);
    expect(worker.level).toBe(2);
  });

  test("every sink receives each line, and close() releases them", () => {
    const a = memorySink();
    const b = memorySink();
    const log = createLogger({ level: 2, sinks: [a, b] });
    log.warn("x");
    log.close();
    expect(a.lines).toEqual([["warn", "x"]]);
    expect(b.lines).toEqual([["warn", "x"]]);
    expect(a.closed && b.closed).toBe(true);
  });

  test("a percent sign in a lone message is printed as written", () => {
    const sink = memorySink();
    createLogger({ level: 2, sinks: [sink] }).info("user %s%n%x logged in");
    expect(sink.lines[0]![1]).toBe("user %s%n%x logged in");
  });
});

describe("stderr sink", () => {
  test("writes 'ident[pid]: ' lines with a severity word for all but info", () => {
    const out: string[] = [];
    const sink = createStderrSink({ write: (c) => (out.push(c), true), writableLength: 0 }, "ocserv", 42);
    sink.write("info", "hello");
    sink.write("error", "bad");
    sink.write("warn", "careful");
    expect(out).toEqual(["ocserv[42]: hello\n", "ocserv[42]: error: bad\n", "ocserv[42]: warning: careful\n"]);
  });

  test("drops lines while the stream is backed up and reports how many once it drains", () => {
    const out: string[] = [];
    const stream = { writableLength: 2 << 20, write: (c: string) => (out.push(c), true) };
    const sink = createStderrSink(stream, "ocserv", 1);
    sink.write("info", "lost 1");
    sink.write("info", "lost 2");
    expect(out).toEqual([]);
    stream.writableLength = 0;
    sink.write("info", "back");
    expect(out).toEqual(["ocserv[1]: warning: 2 log messages dropped (stderr was not being read)\n", "ocserv[1]: back\n"]);
  });

  test("a stream that throws does not throw into the caller", () => {
    const sink = createStderrSink({ write: () => { throw new Error("EPIPE"); }, writableLength: 0 }, "ocserv", 1);
    expect(() => sink.write("error", "x")).not.toThrow();
  });
});
