// The single-page web UI, compiled into the binary (no files to install, no build step).
#pragma once

namespace paradit::server {

const char* web_page();

}  // namespace paradit::server
