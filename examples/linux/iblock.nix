# NixOS module for iblock with nftables and systemd socket activation. It
# replaces an iptables + ipset + "-m recent" recipe: one connection to a
# trap port bans the address from every port, separate IPv4 and IPv6 sets,
# ten-day expiry, sets saved at shutdown and every hour, restored at boot.
# Use it from configuration.nix: imports = [ ./iblock.nix ];
# with a checkout of iblock in ./iblock beside it.
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
  saved = "/var/lib/iblock/sets.nft";
  saveSets = pkgs.writeShellScript "iblock-save" ''
    ${nft} list set inet iblock iblocked > ${saved}.tmp &&
      ${nft} list set inet iblock iblocked6 >> ${saved}.tmp &&
      ${pkgs.coreutils}/bin/sync ${saved}.tmp &&
      ${pkgs.coreutils}/bin/mv -f ${saved}.tmp ${saved}
  '';
in
{
  networking.nftables.enable = true;
  # The same table as examples/linux/iblock.nft. Remove from trap_ports any
  # port this machine serves.
  networking.nftables.tables.iblock = {
    family = "inet";
    content = ''
      define trap_ports = { 21, 23, 25, 110, 135, 139, 445, 1433, 1521, 3306, 3389, 5432, 5900, 6379, 8080 }
      set iblocked {
        type ipv4_addr
        flags interval, timeout
        timeout 10d
      }
      set iblocked6 {
        type ipv6_addr
        flags interval, timeout
        timeout 10d
      }
      chain drop_banned {
        type filter hook prerouting priority -300; policy accept;
        ip saddr @iblocked counter drop
        ip6 saddr @iblocked6 counter drop
      }
      chain trap {
        type nat hook prerouting priority dstnat; policy accept;
        tcp dport $trap_ports redirect to :2507
      }
    '';
  };

  # As examples/linux/iblock.socket: see there why the limits are raised.
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

  # As examples/linux/iblock@.service.
  systemd.services."iblock@" = {
    description = "iblock: ban the port scanner on this connection";
    serviceConfig = {
      ExecStart = "${iblock}/bin/iblock -d none -c ${nft}";
      StandardInput = "socket";
      StandardError = "journal";
      RuntimeMaxSec = "30s";
      DynamicUser = true;
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

  # Reloading nftables empties the sets: save them before, restore after.
  systemd.services.iblock-sets = {
    description = "Keep the addresses iblock banned across reboots";
    wantedBy = [ "multi-user.target" ];
    after = [ "nftables.service" ];
    partOf = [ "nftables.service" ];
    before = [ "iblock.socket" ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      StateDirectory = "iblock";
      ExecStart = "-${nft} -f ${saved}";
      ExecStop = saveSets;
    };
  };
  systemd.services.iblock-save = {
    description = "Save the addresses iblock banned";
    startAt = "hourly";
    serviceConfig = {
      Type = "oneshot";
      StateDirectory = "iblock";
      ExecStart = saveSets;
    };
  };
}
