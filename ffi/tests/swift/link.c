/* Links against libbedside_ffi.a through the generated header, as an iOS
 * app's Swift module does through BedsideFFI.modulemap: the contract
 * version the Swift bindings check at load, and the checksums of a few
 * calls (they change when a signature changes). Built and run by
 * ffi/tests/foreign.rs. */
#include <stdio.h>
#include "BedsideFFI.h"

int main(void) {
    printf("contract %u\n", ffi_bedside_ffi_uniffi_contract_version());
    printf("send_chat %u\n", uniffi_bedside_ffi_checksum_method_bedsideclient_send_chat());
    printf("connect %u\n", uniffi_bedside_ffi_checksum_constructor_bedsideclient_connect());
    return 0;
}
