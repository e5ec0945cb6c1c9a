package evmledger_test

const amplifiedOpBytes = 1
