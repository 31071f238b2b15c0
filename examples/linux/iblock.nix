# NixOS module for iblock with nftables: the kernel bans a port scanner on
# its first packet to a trap port, as the iptables + ipset recipe it
# replaces did with "-j SET --add-set", for an hour, and for ten days once
# it completes a handshake with the trap; systemd socket activation runs
# iblock for those handshakes (syslog, -c). Separate IPv4 and IPv6 sets;
# the long bans and the allow sets saved at shutdown and every hour, and
# restored at boot, by examples/linux/iblock-sets.
# Use it from configuration.nix: imports = [ ./iblock.nix ];
# with a checkout of iblock in ./iblock beside it. Edit the trap ports in
# ./iblock/examples/linux/iblock.nft, and what is yours in
# ./iblock/examples/linux/allow.
{ pkgs, ... }:

let
  iblock = pkgs.buildGoModule {
    pname = "iblock";
    version = "1.0";
    src = ./iblock;
    # The hash of "go mod vendor"'s output; nix prints the new one if go.sum changes.
    vendorHash = "sha256-uotF1tIcXgAyf6HsbMPdyTjZhcse3JrQKWu/NPd/UgQ=";
    env.CGO_ENABLED = "0";
    postInstall = "install -Dm444 iblock.8 $out/share/man/man8/iblock.8";
  };
  nft = "${pkgs.nftables}/bin/nft";
  # examples/linux/iblock-sets, with the programs it runs: it saves the
  # long bans and the allow sets with their expiry times, under a lock and
  # atomically, and restores what is valid of a damaged file.
  sets = "${./iblock/examples/linux/iblock-sets}";
  setsPath = with pkgs; [ nftables util-linux gawk coreutils gnused gnugrep ];
in
{
  networking.nftables.enable = true;
  # The kernel-side ruleset, examples/linux/iblock.nft, as it is.
  networking.nftables.ruleset = builtins.readFile ./iblock/examples/linux/iblock.nft;

  # The one list of what is yours: iblock reads it (-w), and iblock-sets
  # fills the ruleset's allow sets from it at each restore. Edit
  # ./iblock/examples/linux/allow.
  environment.etc."iblock/allow".source = ./iblock/examples/linux/allow;

  # As examples/linux/iblock.socket: see there why the limits are raised.
  # "2507" listens on the wildcard address, which the ruleset's proof of a
  # handshake needs (see iblock.nft): do not bind it to one address.
  systemd.sockets.iblock = {
    description = "iblock trap port: ban whoever connects";
    wantedBy = [ "sockets.target" ];
    after = [ "nftables.service" ];
    listenStreams = [ "2507" ];
    socketConfig = {
      Accept = true;
      MaxConnections = 1024;
      TriggerLimitIntervalSec = "2s";
      TriggerLimitBurst = 4000;
    };
  };

  # As examples/linux/iblock.sysusers: a fixed system user, whose uid the
  # journal records with each of iblock's lines (doc/fleet.md), where
  # DynamicUser would make up a new one for each connection.
  users.users.iblock = {
    isSystemUser = true;
    group = "iblock";
    description = "iblock port scanner ban";
  };
  users.groups.iblock = { };

  # As examples/linux/iblock@.service.
  systemd.services."iblock@" = {
    description = "iblock: ban the port scanner on this connection";
    serviceConfig = {
      ExecStart = "${iblock}/bin/iblock -d none -c ${nft} -w /etc/iblock/allow";
      StandardInput = "socket";
      StandardError = "journal";
      RuntimeMaxSec = "30s";
      User = "iblock";
      Group = "iblock";
      RemoveIPC = true;
      AmbientCapabilities = [ "CAP_NET_ADMIN" ];
      CapabilityBoundingSet = [ "CAP_NET_ADMIN" ];
      NoNewPrivileges = true;
      RestrictAddressFamilies = [ "AF_UNIX" "AF_NETLINK" ];
      SystemCallFilter = [ "@system-service" "~@privileged @resources" ];
      SystemCallErrorNumber = "EPERM";
      SystemCallArchitectures = "native";
      ProtectSystem = "strict";
      ProtectHome = true;
      PrivateTmp = true;
      PrivateMounts = true;
      PrivateDevices = true;
      DevicePolicy = "closed";
      ProtectKernelTunables = true;
      ProtectKernelModules = true;
      ProtectKernelLogs = true;
      ProtectControlGroups = true;
      ProtectClock = true;
      ProtectHostname = true;
      ProtectProc = "invisible";
      ProcSubset = "pid";
      RestrictNamespaces = true;
      RestrictRealtime = true;
      RestrictSUIDSGID = true;
      LockPersonality = true;
      MemoryDenyWriteExecute = true;
      UMask = "0077";
    };
  };

  # Restarting nftables empties the sets: partOf stops this unit (saves)
  # before nftables stops, and starts it (restores) after nftables starts.
  # A reload of nftables empties them too, in one script that leaves no
  # room for a save: this unit's reload restores the last save after it.
  systemd.services.iblock-sets = {
    description = "Keep the addresses iblock banned across reboots";
    wantedBy = [ "multi-user.target" ];
    after = [ "nftables.service" ];
    partOf = [ "nftables.service" ];
    before = [ "iblock.socket" ];
    path = setsPath;
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      StateDirectory = "iblock";
      ExecStart = "-${sets} nft restore";
      ExecReload = "-${sets} nft restore";
      ExecStop = "-${sets} nft save";
    };
    unitConfig.ReloadPropagatedFrom = "nftables.service";
  };
  systemd.services.iblock-save = {
    description = "Save the addresses iblock banned";
    startAt = "hourly";
    after = [ "nftables.service" "iblock-sets.service" ];
    path = setsPath;
    serviceConfig = {
      Type = "oneshot";
      StateDirectory = "iblock";
      ExecStart = "${sets} nft save";
    };
  };
}
