#ifndef ASHITA_CCURLSHIM_H
#define ASHITA_CCURLSHIM_H

#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call:
// one non-variadic wrapper per argument type.
CURLcode ashita_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ashita_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ashita_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode ashita_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode ashita_curl_setopt_write_callback(CURL *handle, curl_write_callback callback);
CURLcode ashita_curl_setopt_xferinfo_callback(CURL *handle, curl_xferinfo_callback callback);
CURLcode ashita_curl_setopt_header_callback(CURL *handle, curl_write_callback callback);
CURLcode ashita_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode ashita_curl_getinfo_string(CURL *handle, CURLINFO info, const char **value);

// CURLVERSION_NOW is a macro, which does not import.
const char *ashita_curl_version(void);

#endif
