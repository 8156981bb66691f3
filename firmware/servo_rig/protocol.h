// Protocol v1 over Serial: a line buffer filled without waiting, one reply for every line.
#pragma once

#include <stdint.h>

// Print the banner (the host waits for it after opening the port).
void protocol_begin();
// Take every byte waiting in the UART and act on each complete line; returns at once.
// Returns true if at least one command (a line with a readable id) arrived.
bool protocol_poll(uint32_t now_us, uint32_t now_ms);
// Send the final line (DONE or ERR) of the current move.
void protocol_report_move();
