"""Seed, "File Uploads": a form that uploads an MP3, and a handler that sends it back."""
# ruff: noqa: I001, UP031
from multidict import MultiDict  # support: the seed uses MultiDict unqualified

from aioweb import web

FORM = (  # support: the seed's form, as it stands; a test checks it against the seed text
    """<form action="/store/mp3" method="post" accept-charset="utf-8"
      enctype="multipart/form-data">

    <label for="mp3">Mp3</label>
    <input id="mp3" name="mp3" type="file" value="" />

    <input type="submit" value="submit" />
</form>
"""
)


async def form_handler(request):  # support: serves the form to a browser
    return web.Response(text=FORM, content_type='text/html')


async def store_mp3_handler(request):

    data = await request.post()

    mp3 = data['mp3']

    # .filename contains the name of the file in string format.
    filename = mp3.filename

    # .file contains the actual file data that needs to be stored somewhere.
    mp3_file = data['mp3'].file

    content = mp3_file.read()

    # The seed's slip: its header value (the file) means a Content-Disposition
    # built from the upload.
    quoted = filename.replace('\\', '\\\\').replace('"', '\\"')  # support
    mp3_file = 'attachment; filename="%s"' % quoted  # support

    return web.Response(body=content,
                        headers=MultiDict(
                            {'CONTENT-DISPOSITION': mp3_file})
                        )  # support: the seed's closing parenthesis is missing


app = web.Application()  # support
app.router.add_route('GET', '/', form_handler)  # support
app.router.add_route('POST', '/store/mp3', store_mp3_handler)  # support
