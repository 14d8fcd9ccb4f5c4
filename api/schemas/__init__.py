"""The API's bodies, one module per router: *Create / *Update in, *Public out."""
