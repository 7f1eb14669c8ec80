// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

interface IFactRegistry {
    function isValid(bytes32 fact) external view returns (bool);
}

/// A small Starknet-style core contract for tests of the settlement client.
///
/// `updateStateKzgDA` accepts a Starknet OS program output (>= 0.13.2 layout) whose state diff was
/// posted in the transaction's blobs. It checks, in order:
///   1. every blob's KZG proof at x_0, with the point-evaluation precompile (0x0a), against
///      blobhash(i) and the commitment and y_0 that the program output carries;
///   2. that the state-transition fact keccak256(programHash, keccak256(programOutput)) is
///      registered in the fact registry;
///   3. that the output continues the stored state (previous root, block number and block hash).
/// It then stores the new state and emits the same events as the Starknet core contract.
contract TestStarknetCore {
    // Program output header.
    uint256 internal constant PREV_ROOT = 0;
    uint256 internal constant NEW_ROOT = 1;
    uint256 internal constant PREV_BLOCK_NUMBER = 2;
    uint256 internal constant NEW_BLOCK_NUMBER = 3;
    uint256 internal constant PREV_BLOCK_HASH = 4;
    uint256 internal constant NEW_BLOCK_HASH = 5;
    uint256 internal constant USE_KZG_DA = 8;
    // KZG segment, right after the 10-word header.
    uint256 internal constant KZG_X0 = 10;
    uint256 internal constant KZG_N_BLOBS = 11;
    uint256 internal constant KZG_COMMITMENTS = 12;

    address internal constant POINT_EVALUATION = address(0x0a);
    uint256 internal constant FIELD_ELEMENTS_PER_BLOB = 4096;
    uint256 internal constant BLS_MODULUS =
        52435875175126190479447740508185965837690552500527637822603658699938581184513;
    // The OS writes block number -1 ("nothing settled yet") as the felt P - 1.
    uint256 internal constant FELT_MINUS_ONE =
        0x800000000000011000000000000000000000000000000000000000000000000;

    IFactRegistry public immutable factRegistry;
    uint256 public immutable programHash;

    uint256 public stateRoot;
    int256 public stateBlockNumber;
    uint256 public stateBlockHash;

    event LogStateTransitionFact(bytes32 stateTransitionFact);
    event LogStateUpdate(uint256 globalRoot, int256 blockNumber, uint256 blockHash);

    constructor(
        IFactRegistry registry,
        uint256 programHash_,
        uint256 genesisRoot,
        int256 genesisBlockNumber,
        uint256 genesisBlockHash
    ) {
        factRegistry = registry;
        programHash = programHash_;
        stateRoot = genesisRoot;
        stateBlockNumber = genesisBlockNumber;
        stateBlockHash = genesisBlockHash;
    }

    function updateStateKzgDA(uint256[] calldata programOutput, bytes[] calldata kzgProofs) external {
        require(programOutput.length > KZG_N_BLOBS, "PROGRAM_OUTPUT_TOO_SHORT");
        require(programOutput[USE_KZG_DA] == 1, "KZG_DA_NOT_USED");
        verifyBlobs(programOutput, kzgProofs);

        bytes32 fact = keccak256(abi.encode(programHash, keccak256(abi.encodePacked(programOutput))));
        require(factRegistry.isValid(fact), "NO_STATE_TRANSITION_PROOF");
        emit LogStateTransitionFact(fact);

        applyTransition(programOutput);
    }

    function verifyBlobs(uint256[] calldata out, bytes[] calldata kzgProofs) internal view {
        uint256 nBlobs = out[KZG_N_BLOBS];
        require(nBlobs > 0 && kzgProofs.length == nBlobs, "INVALID_NUMBER_OF_KZG_PROOFS");
        uint256 yOffset = KZG_COMMITMENTS + 2 * nBlobs;
        require(out.length >= yOffset + 2 * nBlobs, "KZG_SEGMENT_TOO_SHORT");
        bytes32 x0 = bytes32(out[KZG_X0]);
        require(uint256(x0) < BLS_MODULUS, "INVALID_X0");

        for (uint256 i = 0; i < nBlobs; i++) {
            bytes32 versionedHash = blobhash(i);
            require(versionedHash != bytes32(0), "MISSING_BLOB");
            require(kzgProofs[i].length == 48, "INVALID_KZG_PROOF_LENGTH");
            bytes memory input = abi.encodePacked(
                versionedHash, x0, yOf(out, yOffset + 2 * i), commitmentOf(out, KZG_COMMITMENTS + 2 * i), kzgProofs[i]
            );
            // The precompile also checks that the commitment hashes to the blob's versioned hash.
            (bool ok, bytes memory result) = POINT_EVALUATION.staticcall(input);
            require(ok, "KZG_PROOF_REJECTED");
            require(result.length == 64, "UNEXPECTED_PRECOMPILE_OUTPUT");
            (uint256 elements, uint256 modulus) = abi.decode(result, (uint256, uint256));
            require(elements == FIELD_ELEMENTS_PER_BLOB && modulus == BLS_MODULUS, "UNEXPECTED_PRECOMPILE_OUTPUT");
        }
    }

    /// A 48-byte commitment from two 192-bit limbs, low first.
    function commitmentOf(uint256[] calldata out, uint256 at) internal pure returns (bytes memory) {
        uint256 low = out[at];
        uint256 high = out[at + 1];
        require(low <= type(uint192).max && high <= type(uint192).max, "INVALID_KZG_COMMITMENT");
        return abi.encodePacked(uint192(high), uint192(low));
    }

    /// y_0 from two 128-bit limbs, low first.
    function yOf(uint256[] calldata out, uint256 at) internal pure returns (bytes32) {
        uint256 low = out[at];
        uint256 high = out[at + 1];
        require(low <= type(uint128).max && high <= type(uint128).max, "INVALID_Y_VALUE");
        return bytes32((high << 128) | low);
    }

    function applyTransition(uint256[] calldata out) internal {
        require(out[PREV_ROOT] == stateRoot, "INVALID_PREVIOUS_ROOT");
        require(toBlockNumber(out[PREV_BLOCK_NUMBER]) == stateBlockNumber, "INVALID_PREVIOUS_BLOCK_NUMBER");
        require(out[PREV_BLOCK_HASH] == stateBlockHash, "INVALID_PREVIOUS_BLOCK_HASH");
        int256 newBlockNumber = toBlockNumber(out[NEW_BLOCK_NUMBER]);
        require(newBlockNumber > stateBlockNumber, "BLOCK_NUMBER_NOT_INCREASING");

        stateRoot = out[NEW_ROOT];
        stateBlockNumber = newBlockNumber;
        stateBlockHash = out[NEW_BLOCK_HASH];
        emit LogStateUpdate(stateRoot, stateBlockNumber, stateBlockHash);
    }

    function toBlockNumber(uint256 felt) internal pure returns (int256) {
        if (felt == FELT_MINUS_ONE) {
            return -1;
        }
        require(felt <= uint256(type(int256).max), "INVALID_BLOCK_NUMBER");
        return int256(felt);
    }
}
