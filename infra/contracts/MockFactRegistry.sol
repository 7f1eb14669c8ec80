// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// A fact registry for tests: anyone may register a fact; `isValid` answers as a GPS verifier does.
contract MockFactRegistry {
    mapping(bytes32 => bool) private facts;

    event FactRegistered(bytes32 fact);

    function registerFact(bytes32 fact) external {
        facts[fact] = true;
        emit FactRegistered(fact);
    }

    function isValid(bytes32 fact) external view returns (bool) {
        return facts[fact];
    }
}
