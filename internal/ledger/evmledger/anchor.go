// Code generated - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package evmledger

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/event"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = errors.New
	_ = big.NewInt
	_ = strings.NewReader
	_ = ethereum.NotFound
	_ = bind.Bind
	_ = common.Big1
	_ = types.BloomLookup
	_ = event.NewSubscription
	_ = abi.ConvertType
	_ = time.Tick
	_ = context.Background
)

// AnchorMetaData contains all meta data concerning the Anchor contract.
var AnchorMetaData = &bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"network_\",\"type\":\"bytes32\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"size\",\"type\":\"uint256\"}],\"name\":\"BadBatchSize\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"uint64\",\"name\":\"seq\",\"type\":\"uint64\"},{\"indexed\":false,\"internalType\":\"bytes\",\"name\":\"batch\",\"type\":\"bytes\"}],\"name\":\"Anchored\",\"type\":\"event\"},{\"inputs\":[],\"name\":\"MAX_BATCH_BYTES\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes\",\"name\":\"batch\",\"type\":\"bytes\"}],\"name\":\"anchor\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"count\",\"outputs\":[{\"internalType\":\"uint64\",\"name\":\"\",\"type\":\"uint64\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"genesisBlock\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"network\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"}]",
	Bin: "0x60c0604052348015600e575f5ffd5b5060405161031f38038061031f833981016040819052602b916036565b6080524360a052604c565b5f602082840312156045575f5ffd5b5051919050565b60805160a0516102b461006b5f395f608f01525f60ce01526102b45ff3fe608060405234801561000f575f5ffd5b5060043610610055575f3560e01c806306661abd146100595780634cdc9c631461008a57806357ebaceb146100bf5780636739afca146100c95780637d3b0ca2146100f0575b5f5ffd5b5f5461006c9067ffffffffffffffff1681565b60405167ffffffffffffffff90911681526020015b60405180910390f35b6100b17f000000000000000000000000000000000000000000000000000000000000000081565b604051908152602001610081565b6100b16201e00081565b6100b17f000000000000000000000000000000000000000000000000000000000000000081565b6101036100fe3660046101b0565b610105565b005b80158061011457506201e00081115b1561013957604051630348de3360e41b81526004810182905260240160405180910390fd5b5f5467ffffffffffffffff1661015081600161021e565b5f805467ffffffffffffffff191667ffffffffffffffff928316179055604051908216907f465f8006f70c34d47c676969855f87b7c9fe336e79f84813fe835791b247d000906101a39086908690610250565b60405180910390a2505050565b5f5f602083850312156101c1575f5ffd5b823567ffffffffffffffff8111156101d7575f5ffd5b8301601f810185136101e7575f5ffd5b803567ffffffffffffffff8111156101fd575f5ffd5b85602082840101111561020e575f5ffd5b6020919091019590945092505050565b67ffffffffffffffff818116838216019081111561024a57634e487b7160e01b5f52601160045260245ffd5b92915050565b60208152816020820152818360408301375f818301604090810191909152601f909201601f1916010191905056fea264697066735822122095382425f2858509b7d81a60c4833dffdf60ab051823cef9ab5e03ff3370a43464736f6c63430008250033",
}

// AnchorABI is the input ABI used to generate the binding from.
// Deprecated: Use AnchorMetaData.ABI instead.
var AnchorABI = AnchorMetaData.ABI

// AnchorBin is the compiled bytecode used for deploying new contracts.
// Deprecated: Use AnchorMetaData.Bin instead.
var AnchorBin = AnchorMetaData.Bin

// DeployAnchor deploys a new Ethereum contract, binding an instance of Anchor to it.
func DeployAnchor(auth *bind.TransactOpts, backend bind.ContractBackend, network_ [32]byte) (common.Address, *types.Transaction, *Anchor, error) {
	parsed, err := AnchorMetaData.GetAbi()
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	if parsed == nil {
		return common.Address{}, nil, nil, errors.New("GetABI returned nil")
	}

	address, tx, contract, err := bind.DeployContract(auth, *parsed, common.FromHex(AnchorBin), backend, network_)
	if err != nil {
		return common.Address{}, nil, nil, err
	}
	return address, tx, &Anchor{AnchorCaller: AnchorCaller{contract: contract}, AnchorTransactor: AnchorTransactor{contract: contract}, AnchorFilterer: AnchorFilterer{contract: contract}}, nil
}

// Anchor is an auto generated Go binding around an Ethereum contract.
type Anchor struct {
	AnchorCaller     // Read-only binding to the contract
	AnchorTransactor // Write-only binding to the contract
	AnchorFilterer   // Log filterer for contract events
}

// AnchorCaller is an auto generated read-only Go binding around an Ethereum contract.
type AnchorCaller struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// AnchorTransactor is an auto generated write-only Go binding around an Ethereum contract.
type AnchorTransactor struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// AnchorFilterer is an auto generated log filtering Go binding around an Ethereum contract events.
type AnchorFilterer struct {
	contract *bind.BoundContract // Generic contract wrapper for the low level calls
}

// AnchorSession is an auto generated Go binding around an Ethereum contract,
// with pre-set call and transact options.
type AnchorSession struct {
	Contract     *Anchor           // Generic contract binding to set the session for
	CallOpts     bind.CallOpts     // Call options to use throughout this session
	TransactOpts bind.TransactOpts // Transaction auth options to use throughout this session
}

// AnchorCallerSession is an auto generated read-only Go binding around an Ethereum contract,
// with pre-set call options.
type AnchorCallerSession struct {
	Contract *AnchorCaller // Generic contract caller binding to set the session for
	CallOpts bind.CallOpts // Call options to use throughout this session
}

// AnchorTransactorSession is an auto generated write-only Go binding around an Ethereum contract,
// with pre-set transact options.
type AnchorTransactorSession struct {
	Contract     *AnchorTransactor // Generic contract transactor binding to set the session for
	TransactOpts bind.TransactOpts // Transaction auth options to use throughout this session
}

// AnchorRaw is an auto generated low-level Go binding around an Ethereum contract.
type AnchorRaw struct {
	Contract *Anchor // Generic contract binding to access the raw methods on
}

// AnchorCallerRaw is an auto generated low-level read-only Go binding around an Ethereum contract.
type AnchorCallerRaw struct {
	Contract *AnchorCaller // Generic read-only contract binding to access the raw methods on
}

// AnchorTransactorRaw is an auto generated low-level write-only Go binding around an Ethereum contract.
type AnchorTransactorRaw struct {
	Contract *AnchorTransactor // Generic write-only contract binding to access the raw methods on
}

// NewAnchor creates a new instance of Anchor, bound to a specific deployed contract.
func NewAnchor(address common.Address, backend bind.ContractBackend) (*Anchor, error) {
	contract, err := bindAnchor(address, backend, backend, backend)
	if err != nil {
		return nil, err
	}
	return &Anchor{AnchorCaller: AnchorCaller{contract: contract}, AnchorTransactor: AnchorTransactor{contract: contract}, AnchorFilterer: AnchorFilterer{contract: contract}}, nil
}

// NewAnchorCaller creates a new read-only instance of Anchor, bound to a specific deployed contract.
func NewAnchorCaller(address common.Address, caller bind.ContractCaller) (*AnchorCaller, error) {
	contract, err := bindAnchor(address, caller, nil, nil)
	if err != nil {
		return nil, err
	}
	return &AnchorCaller{contract: contract}, nil
}

// NewAnchorTransactor creates a new write-only instance of Anchor, bound to a specific deployed contract.
func NewAnchorTransactor(address common.Address, transactor bind.ContractTransactor) (*AnchorTransactor, error) {
	contract, err := bindAnchor(address, nil, transactor, nil)
	if err != nil {
		return nil, err
	}
	return &AnchorTransactor{contract: contract}, nil
}

// NewAnchorFilterer creates a new log filterer instance of Anchor, bound to a specific deployed contract.
func NewAnchorFilterer(address common.Address, filterer bind.ContractFilterer) (*AnchorFilterer, error) {
	contract, err := bindAnchor(address, nil, nil, filterer)
	if err != nil {
		return nil, err
	}
	return &AnchorFilterer{contract: contract}, nil
}

// bindAnchor binds a generic wrapper to an already deployed contract.
func bindAnchor(address common.Address, caller bind.ContractCaller, transactor bind.ContractTransactor, filterer bind.ContractFilterer) (*bind.BoundContract, error) {
	parsed, err := AnchorMetaData.GetAbi()
	if err != nil {
		return nil, err
	}
	return bind.NewBoundContract(address, *parsed, caller, transactor, filterer), nil
}

// Call invokes the (constant) contract method with params as input values and
// sets the output to result. The result type might be a single field for simple
// returns, a slice of interfaces for anonymous returns and a struct for named
// returns.
func (_Anchor *AnchorRaw) Call(opts *bind.CallOpts, result *[]interface{}, method string, params ...interface{}) error {
	return _Anchor.Contract.AnchorCaller.contract.Call(opts, result, method, params...)
}

// Transfer initiates a plain transaction to move funds to the contract, calling
// its default method if one is available.
func (_Anchor *AnchorRaw) Transfer(opts *bind.TransactOpts) (*types.Transaction, error) {
	return _Anchor.Contract.AnchorTransactor.contract.Transfer(opts)
}

// Transact invokes the (paid) contract method with params as input values.
func (_Anchor *AnchorRaw) Transact(opts *bind.TransactOpts, method string, params ...interface{}) (*types.Transaction, error) {
	return _Anchor.Contract.AnchorTransactor.contract.Transact(opts, method, params...)
}

// Call invokes the (constant) contract method with params as input values and
// sets the output to result. The result type might be a single field for simple
// returns, a slice of interfaces for anonymous returns and a struct for named
// returns.
func (_Anchor *AnchorCallerRaw) Call(opts *bind.CallOpts, result *[]interface{}, method string, params ...interface{}) error {
	return _Anchor.Contract.contract.Call(opts, result, method, params...)
}

// Transfer initiates a plain transaction to move funds to the contract, calling
// its default method if one is available.
func (_Anchor *AnchorTransactorRaw) Transfer(opts *bind.TransactOpts) (*types.Transaction, error) {
	return _Anchor.Contract.contract.Transfer(opts)
}

// Transact invokes the (paid) contract method with params as input values.
func (_Anchor *AnchorTransactorRaw) Transact(opts *bind.TransactOpts, method string, params ...interface{}) (*types.Transaction, error) {
	return _Anchor.Contract.contract.Transact(opts, method, params...)
}

// MAXBATCHBYTES is a free data retrieval call binding the contract method 0x57ebaceb.
//
// Solidity: function MAX_BATCH_BYTES() view returns(uint256)
func (_Anchor *AnchorCaller) MAXBATCHBYTES(opts *bind.CallOpts) (*big.Int, error) {
	var out []interface{}
	err := _Anchor.contract.Call(opts, &out, "MAX_BATCH_BYTES")

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// MAXBATCHBYTES is a free data retrieval call binding the contract method 0x57ebaceb.
//
// Solidity: function MAX_BATCH_BYTES() view returns(uint256)
func (_Anchor *AnchorSession) MAXBATCHBYTES() (*big.Int, error) {
	return _Anchor.Contract.MAXBATCHBYTES(&_Anchor.CallOpts)
}

// MAXBATCHBYTES is a free data retrieval call binding the contract method 0x57ebaceb.
//
// Solidity: function MAX_BATCH_BYTES() view returns(uint256)
func (_Anchor *AnchorCallerSession) MAXBATCHBYTES() (*big.Int, error) {
	return _Anchor.Contract.MAXBATCHBYTES(&_Anchor.CallOpts)
}

// Count is a free data retrieval call binding the contract method 0x06661abd.
//
// Solidity: function count() view returns(uint64)
func (_Anchor *AnchorCaller) Count(opts *bind.CallOpts) (uint64, error) {
	var out []interface{}
	err := _Anchor.contract.Call(opts, &out, "count")

	if err != nil {
		return *new(uint64), err
	}

	out0 := *abi.ConvertType(out[0], new(uint64)).(*uint64)

	return out0, err

}

// Count is a free data retrieval call binding the contract method 0x06661abd.
//
// Solidity: function count() view returns(uint64)
func (_Anchor *AnchorSession) Count() (uint64, error) {
	return _Anchor.Contract.Count(&_Anchor.CallOpts)
}

// Count is a free data retrieval call binding the contract method 0x06661abd.
//
// Solidity: function count() view returns(uint64)
func (_Anchor *AnchorCallerSession) Count() (uint64, error) {
	return _Anchor.Contract.Count(&_Anchor.CallOpts)
}

// GenesisBlock is a free data retrieval call binding the contract method 0x4cdc9c63.
//
// Solidity: function genesisBlock() view returns(uint256)
func (_Anchor *AnchorCaller) GenesisBlock(opts *bind.CallOpts) (*big.Int, error) {
	var out []interface{}
	err := _Anchor.contract.Call(opts, &out, "genesisBlock")

	if err != nil {
		return *new(*big.Int), err
	}

	out0 := *abi.ConvertType(out[0], new(*big.Int)).(**big.Int)

	return out0, err

}

// GenesisBlock is a free data retrieval call binding the contract method 0x4cdc9c63.
//
// Solidity: function genesisBlock() view returns(uint256)
func (_Anchor *AnchorSession) GenesisBlock() (*big.Int, error) {
	return _Anchor.Contract.GenesisBlock(&_Anchor.CallOpts)
}

// GenesisBlock is a free data retrieval call binding the contract method 0x4cdc9c63.
//
// Solidity: function genesisBlock() view returns(uint256)
func (_Anchor *AnchorCallerSession) GenesisBlock() (*big.Int, error) {
	return _Anchor.Contract.GenesisBlock(&_Anchor.CallOpts)
}

// Network is a free data retrieval call binding the contract method 0x6739afca.
//
// Solidity: function network() view returns(bytes32)
func (_Anchor *AnchorCaller) Network(opts *bind.CallOpts) ([32]byte, error) {
	var out []interface{}
	err := _Anchor.contract.Call(opts, &out, "network")

	if err != nil {
		return *new([32]byte), err
	}

	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)

	return out0, err

}

// Network is a free data retrieval call binding the contract method 0x6739afca.
//
// Solidity: function network() view returns(bytes32)
func (_Anchor *AnchorSession) Network() ([32]byte, error) {
	return _Anchor.Contract.Network(&_Anchor.CallOpts)
}

// Network is a free data retrieval call binding the contract method 0x6739afca.
//
// Solidity: function network() view returns(bytes32)
func (_Anchor *AnchorCallerSession) Network() ([32]byte, error) {
	return _Anchor.Contract.Network(&_Anchor.CallOpts)
}

// Anchor is a paid mutator transaction binding the contract method 0x7d3b0ca2.
//
// Solidity: function anchor(bytes batch) returns()
func (_Anchor *AnchorTransactor) Anchor(opts *bind.TransactOpts, batch []byte) (*types.Transaction, error) {
	return _Anchor.contract.Transact(opts, "anchor", batch)
}

// Anchor is a paid mutator transaction binding the contract method 0x7d3b0ca2.
//
// Solidity: function anchor(bytes batch) returns()
func (_Anchor *AnchorSession) Anchor(batch []byte) (*types.Transaction, error) {
	return _Anchor.Contract.Anchor(&_Anchor.TransactOpts, batch)
}

// Anchor is a paid mutator transaction binding the contract method 0x7d3b0ca2.
//
// Solidity: function anchor(bytes batch) returns()
func (_Anchor *AnchorTransactorSession) Anchor(batch []byte) (*types.Transaction, error) {
	return _Anchor.Contract.Anchor(&_Anchor.TransactOpts, batch)
}

// AnchorAnchoredIterator is returned from FilterAnchored and is used to iterate over the raw logs and unpacked data for Anchored events raised by the Anchor contract.
type AnchorAnchoredIterator struct {
	Event *AnchorAnchored // Event containing the contract specifics and raw log

	contract *bind.BoundContract // Generic contract to use for unpacking event data
	event    string              // Event name to use for unpacking event data

	logs chan types.Log        // Log channel receiving the found contract events
	sub  ethereum.Subscription // Subscription for errors, completion and termination
	done bool                  // Whether the subscription completed delivering logs
	fail error                 // Occurred error to stop iteration
}

// Next advances the iterator to the subsequent event, returning whether there
// are any more events found. In case of a retrieval or parsing error, false is
// returned and Error() can be queried for the exact failure.
func (it *AnchorAnchoredIterator) Next() bool {
	// If the iterator failed, stop iterating
	if it.fail != nil {
		return false
	}
	// If the iterator completed, deliver directly whatever's available
	if it.done {
		select {
		case log := <-it.logs:
			it.Event = new(AnchorAnchored)
			if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
				it.fail = err
				return false
			}
			it.Event.Raw = log
			return true

		default:
			return false
		}
	}
	// Iterator still in progress, wait for either a data or an error event
	select {
	case log := <-it.logs:
		it.Event = new(AnchorAnchored)
		if err := it.contract.UnpackLog(it.Event, it.event, log); err != nil {
			it.fail = err
			return false
		}
		it.Event.Raw = log
		return true

	case err := <-it.sub.Err():
		it.done = true
		it.fail = err
		return it.Next()
	}
}

// Error returns any retrieval or parsing error occurred during filtering.
func (it *AnchorAnchoredIterator) Error() error {
	return it.fail
}

// Close terminates the iteration process, releasing any pending underlying
// resources.
func (it *AnchorAnchoredIterator) Close() error {
	it.sub.Unsubscribe()
	return nil
}

// AnchorAnchored represents a Anchored event raised by the Anchor contract.
type AnchorAnchored struct {
	Seq   uint64
	Batch []byte
	Raw   types.Log // Blockchain specific contextual infos
}

// FilterAnchored is a free log retrieval operation binding the contract event 0x465f8006f70c34d47c676969855f87b7c9fe336e79f84813fe835791b247d000.
//
// Solidity: event Anchored(uint64 indexed seq, bytes batch)
func (_Anchor *AnchorFilterer) FilterAnchored(opts *bind.FilterOpts, seq []uint64) (*AnchorAnchoredIterator, error) {

	var seqRule []interface{}
	for _, seqItem := range seq {
		seqRule = append(seqRule, seqItem)
	}

	logs, sub, err := _Anchor.contract.FilterLogs(opts, "Anchored", seqRule)
	if err != nil {
		return nil, err
	}
	return &AnchorAnchoredIterator{contract: _Anchor.contract, event: "Anchored", logs: logs, sub: sub}, nil
}

// WatchAnchored is a free log subscription operation binding the contract event 0x465f8006f70c34d47c676969855f87b7c9fe336e79f84813fe835791b247d000.
//
// Solidity: event Anchored(uint64 indexed seq, bytes batch)
func (_Anchor *AnchorFilterer) WatchAnchored(opts *bind.WatchOpts, sink chan<- *AnchorAnchored, seq []uint64) (event.Subscription, error) {

	var seqRule []interface{}
	for _, seqItem := range seq {
		seqRule = append(seqRule, seqItem)
	}

	logs, sub, err := _Anchor.contract.WatchLogs(opts, "Anchored", seqRule)
	if err != nil {
		return nil, err
	}
	return event.NewSubscription(func(quit <-chan struct{}) error {
		defer sub.Unsubscribe()
		for {
			select {
			case log := <-logs:
				// New log arrived, parse the event and forward to the user
				event := new(AnchorAnchored)
				if err := _Anchor.contract.UnpackLog(event, "Anchored", log); err != nil {
					// If the signature doesn't match, skip this log.
					if errors.Is(err, bind.ErrEventSignatureMismatch) {
						continue
					}
					return err
				}
				event.Raw = log

				select {
				case sink <- event:
				case err := <-sub.Err():
					return err
				case <-quit:
					return nil
				}
			case err := <-sub.Err():
				return err
			case <-quit:
				return nil
			}
		}
	}), nil
}

// ParseAnchored is a log parse operation binding the contract event 0x465f8006f70c34d47c676969855f87b7c9fe336e79f84813fe835791b247d000.
//
// Solidity: event Anchored(uint64 indexed seq, bytes batch)
func (_Anchor *AnchorFilterer) ParseAnchored(log types.Log) (*AnchorAnchored, error) {
	event := new(AnchorAnchored)
	if err := _Anchor.contract.UnpackLog(event, "Anchored", log); err != nil {
		return nil, err
	}
	event.Raw = log
	return event, nil
}
