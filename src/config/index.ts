// Public API of the configuration layer. Other modules import from here (types from ./types.ts).

export type * from "./types.ts";
export { loadConfig, parseConfig, formatDiagnostic, nonReloadableChanges, applyReload, MAX_CONFIG_BYTES } from "./load.ts";
export type { NonReloadableChange } from "./load.ts";
export {
  loadUserConfig,
  loadGroupConfig,
  loadSessionSettings,
  parseUserConfig,
  sessionSettings,
  checkConfigName,
  collectIroutes,
  exposedRoutesFor,
  MAX_USER_FILE_BYTES,
} from "./peruser.ts";
export type { UserFileParse, UserFileResult, UserFileRejection, UserFileRejectCode, SessionResult, ExposedIroutes } from "./peruser.ts";
export { allOptions, userFileOptions, lookupOption, renderOptionTable, suggestOption } from "./options.ts";
export type { OptionSpec, OptionStatus, ValueType } from "./options.ts";
export { DEFAULT_TLS_PRIORITIES } from "./build.ts";
export type { ParseOptions } from "./build.ts";
export { parseIpAddress, parseRoute, netmaskToPrefix, prefixToNetmask } from "./addr.ts";
