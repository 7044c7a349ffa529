export type { Logger, LogSink, Severity } from "./types.ts";
export { createLogger, type LoggerOptions, type RootLogger } from "./logger.ts";
export { createStderrSink, type LineStream } from "./stderr.ts";
export { createSyslogSink, SyslogError } from "./syslog.ts";
export { OCSERV_LEVEL, DEFAULT_OCSERV_LEVEL, consolaLevelFor } from "./levels.ts";
