-- wrk: PUT a small value to the URL's key (replacing it), as curl -d would send it.
wrk.method = "PUT"
wrk.body = "val=" .. string.rep("v", 16)
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
