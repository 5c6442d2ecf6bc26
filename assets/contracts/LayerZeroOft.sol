// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

// LayerZero's own OFT and OFTAdapter (@layerzerolabs/lz-evm-oapp-v2, the
// version Stargate V2's package is built with), made deployable as LayerZero's
// examples do: the package ships their sources and only abstract artifacts.
// On the devnet they carry hemiBTC as mainnet does (evm.md §1.5, §2.6): the
// adapter locks Hemi's hemiBTC, the OFT mints Ethereum's (8 decimals, as the
// Ethereum hemiBTC OFT has; OFT's default would be 18).

import { OFTAdapter } from "@layerzerolabs/lz-evm-oapp-v2/contracts/oft/OFTAdapter.sol";
import { OFT } from "@layerzerolabs/lz-evm-oapp-v2/contracts/oft/OFT.sol";

contract DevOFTAdapter is OFTAdapter {
    constructor(address token, address endpoint, address delegate) OFTAdapter(token, endpoint, delegate) {}
}

contract DevOFT8 is OFT {
    constructor(string memory name, string memory symbol, address endpoint, address delegate)
        OFT(name, symbol, endpoint, delegate) {}

    function decimals() public pure override returns (uint8) {
        return 8;
    }
}
