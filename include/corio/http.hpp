#pragma once
// The HTTP/1.1 client and its parts, in one include.
#include "corio/http/client.hpp"
#include "corio/http/errors.hpp"
#include "corio/http/headers.hpp"
#include "corio/http/pool.hpp"
#include "corio/http/request.hpp"
#include "corio/http/response.hpp"
#include "corio/http/response_parser.hpp"
#include "corio/http/url.hpp"
