-- wrk: POST the multipart body in the file named by UPLOAD_BODY to /upload.
local file = assert(io.open(os.getenv("UPLOAD_BODY"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "multipart/form-data; boundary=switchyard-bench"
