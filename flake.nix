{
  description = "arbkeep: a terminal console for arbitrage keepers that never loses track of money";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { self, nixpkgs, flake-utils }:
    flake-utils.lib.eachDefaultSystem (system:
      let
        pkgs = import nixpkgs { inherit system; };
      in
      {
        packages.default = pkgs.rustPlatform.buildRustPackage {
          pname = "arbkeep";
          version = "0.1.0";
          src = ./.;
          cargoLock.lockFile = ./Cargo.lock;
          # The integration tests drive anvil and tmux; run them with scripts/test.sh.
          doCheck = false;
          meta.mainProgram = "arbkeep";
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
      });
}
