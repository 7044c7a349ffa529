// restrict-user-to-routes / restrict-user-to-ports, natively with nftables (see ruleset.ts).
export { SessionFirewall } from "./firewall.ts";
export {
  FirewallError,
  NFT_TABLE,
  firewallPolicy,
  installRuleset,
  parseDeviceName,
  removeRuleset,
  resetRuleset,
  type DeviceName,
  type FirewallErrorCode,
  type FirewallPolicy,
  type PolicyInput,
  type PrefixLists,
} from "./ruleset.ts";
export { NFT_PATHS, NFT_TIMEOUT_MS, createNftRunner, findNft, type NftRunner } from "./runner.ts";
