{
  description = "arbkeep: a terminal console for arbitrage keepers that never loses track of money";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { self, nixpkgs, flake-utils }:
    let
      manifest = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).package;
    in
    flake-utils.lib.eachDefaultSystem
      (system:
        let
          pkgs = import nixpkgs { inherit system; };
        in
        {
          # nix build; the binary is result/bin/arbkeep.
          packages.default = pkgs.rustPlatform.buildRustPackage {
            pname = manifest.name;
            version = manifest.version;
            src = ./.;
            cargoLock.lockFile = ./Cargo.lock;
            cargoBuildFlags = [ "--bin" "arbkeep" ];
            # The integration tests drive anvil and tmux; run them with scripts/test.sh.
            doCheck = false;
            postInstall = ''
              install -Dm644 config.toml.example $out/share/doc/arbkeep/config.toml.example
              install -Dm644 assets/arbkeep.service $out/share/doc/arbkeep/arbkeep.service
            '';
            meta = {
              description = manifest.description;
              license = with pkgs.lib.licenses; [ mit asl20 ];
              mainProgram = "arbkeep";
              platforms = pkgs.lib.platforms.linux;
            };
          };

          # nix run . -- --help
          apps.default = flake-utils.lib.mkApp {
            drv = self.packages.${system}.default;
            name = "arbkeep";
          };

          devShells.default = pkgs.mkShell {
            packages = with pkgs; [
              cargo
              rustc
              rustfmt
              clippy
              rust-analyzer
              nodejs_20 # npm installs the devnet tools: anvil, solc, Uniswap V2 artifacts
              tmux # the console smoke test drives the binary in tmux
            ];
          };
        })
    // {
      # services.arbkeep: the headless engine as a hardened systemd service,
      # the same unit as assets/arbkeep.service.
      nixosModules.default = { config, lib, pkgs, ... }:
        let
          cfg = config.services.arbkeep;
          defaultDataDir = "/var/lib/arbkeep";
        in
        {
          options.services.arbkeep = {
            enable = lib.mkEnableOption "arbkeep, the arbitrage keepers' headless engine";

            package = lib.mkOption {
              type = lib.types.package;
              default = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
              defaultText = lib.literalExpression "arbkeep.packages.\${system}.default";
              description = "The arbkeep package to run.";
            };

            configFile = lib.mkOption {
              type = lib.types.path;
              example = lib.literalExpression "./config.toml";
              description = ''
                The config.toml (every key is in config.toml.example). It is
                copied into the Nix store, so it must hold no secrets: they
                come from environmentFile.
              '';
            };

            environmentFile = lib.mkOption {
              type = lib.types.nullOr lib.types.str;
              default = null;
              example = "/run/secrets/arbkeep.env";
              description = ''
                A file of KEY=value lines read by systemd (never copied into
                the store): ARBITRAGE_PRIVATE_KEY or ARBITRAGE_MNEMONIC,
                ARBKEEP_WEBHOOK_URL, SCHWAB_APP_KEY, SCHWAB_APP_SECRET,
                ENCRYPTION_KEY, STELLAR_SECRET_SEED.
              '';
            };

            dataDir = lib.mkOption {
              type = lib.types.str;
              default = defaultDataDir;
              description = ''
                The data dir (store, logs, control token), owned by the
                arbkeep user, mode 0700. The CLI verbs take it as --data-dir,
                run as that user.
              '';
            };
          };

          config = lib.mkIf cfg.enable {
            users.users.arbkeep = {
              isSystemUser = true;
              group = "arbkeep";
              home = cfg.dataDir;
              description = "arbkeep keepers";
            };
            users.groups.arbkeep = { };

            # A data dir other than the default is made here; the default is
            # systemd's StateDirectory.
            systemd.tmpfiles.rules = lib.optional (cfg.dataDir != defaultDataDir)
              "d ${cfg.dataDir} 0700 arbkeep arbkeep - -";

            systemd.services.arbkeep = {
              description = "arbkeep: arbitrage keepers (headless engine)";
              wantedBy = [ "multi-user.target" ];
              after = [ "network-online.target" ];
              wants = [ "network-online.target" ];
              startLimitIntervalSec = 600;
              startLimitBurst = 5;
              serviceConfig = {
                Type = "exec";
                User = "arbkeep";
                Group = "arbkeep";
                ExecStart = lib.escapeShellArgs [
                  (lib.getExe cfg.package)
                  "--headless"
                  "--config"
                  "${cfg.configFile}"
                  "--data-dir"
                  cfg.dataDir
                ];
                EnvironmentFile = lib.mkIf (cfg.environmentFile != null) cfg.environmentFile;
                StateDirectory = lib.mkIf (cfg.dataDir == defaultDataDir) "arbkeep";
                StateDirectoryMode = "0700";
                ReadWritePaths = lib.mkIf (cfg.dataDir != defaultDataDir) [ cfg.dataDir ];
                WorkingDirectory = cfg.dataDir;
                UMask = "0077";

                KillSignal = "SIGTERM";
                KillMode = "mixed";
                TimeoutStopSec = 60;
                Restart = "on-failure";
                RestartSec = "10s";
                # Exit code 2 is a bad config or usage: restarting will not fix it.
                RestartPreventExitStatus = 2;

                NoNewPrivileges = true;
                ProtectSystem = "strict";
                ProtectHome = true;
                PrivateTmp = true;
                PrivateMounts = true;
                PrivateDevices = true;
                ProtectKernelTunables = true;
                ProtectKernelModules = true;
                ProtectKernelLogs = true;
                ProtectControlGroups = true;
                ProtectClock = true;
                ProtectHostname = true;
                ProtectProc = "invisible";
                ProcSubset = "pid";
                RestrictAddressFamilies = [ "AF_INET" "AF_INET6" "AF_UNIX" ];
                RestrictNamespaces = true;
                RestrictRealtime = true;
                RestrictSUIDSGID = true;
                LockPersonality = true;
                MemoryDenyWriteExecute = true;
                RemoveIPC = true;
                PrivateUsers = true;
                CapabilityBoundingSet = "";
                AmbientCapabilities = "";
                SystemCallArchitectures = "native";
                SystemCallFilter = [ "@system-service" "~@privileged @resources" ];
                SystemCallErrorNumber = "EPERM";
                DevicePolicy = "closed";
              };
            };
          };
        };
    };
}
